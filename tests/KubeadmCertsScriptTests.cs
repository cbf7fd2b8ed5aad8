using System.Globalization;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// kubeadm-certs.sh, run for real on a node whose /etc/kubernetes is scratch space: real
/// certificates of chosen lifetimes made by openssl from a real CA, renewed by the kubeadm
/// stand-in's `certs renew` (a new key and a year from the local CA, the old subject and names:
/// phases/certs/renewal/manager.go). The kubelet is modelled by ss: a component holds its port while
/// its manifest is in the static pod path (the kubelet stops a static pod whose manifest goes and
/// starts it when it comes back).
/// </summary>
[NonParallelizable]
public class KubeadmCertsScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Node()
    {
        Repo.RequireTool("openssl", "apt-get install openssl");
        _node = new StubbedNode();
        _node.Stub("kubeadm", $"STATE=\"$STATE/kubeadm\" exec {Repo.Path("tests", "Support", "standins", "kubeadm")} \"$@\"");
        // ss -ltnH 'sport = :PORT': a component holds its port while its manifest is in the static pod path.
        _node.Stub("ss", """
            port=${*: -1}; port=${port#'sport = :'}
            case "$port" in
              6443) component=kube-apiserver ;;
              10257) component=kube-controller-manager ;;
              10259) component=kube-scheduler ;;
              *) exit 0 ;;
            esac
            [ ! -f "/etc/kubernetes/manifests/$component.yaml" ] || echo "LISTEN 0 4096 127.0.0.1:$port 0.0.0.0:*"
            """);
        _node.Stub("curl");
        _node.Stub("sleep");
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private static readonly DateTime Now = DateTime.UtcNow;

    /// <summary>A CA, and kubeadm's certificates with the given lifetimes in days (the others a year).</summary>
    private static string Prepare(Dictionary<string, int> days)
    {
        int Days(string name) => days.TryGetValue(name, out var d) ? d : 365;
        var kubeconfigs = string.Join("\n", new[] { "controller-manager.conf", "scheduler.conf", "super-admin.conf" }.Select(conf => $"""
            issue /CN=system:{conf.Replace(".conf", "", StringComparison.Ordinal)} {Days(conf)} /tmp/{conf}
            printf 'apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n' "$(base64 -w0 < /tmp/{conf}.crt)" "$(base64 -w0 < /tmp/{conf}.key)" > /etc/kubernetes/{conf}
            """));
        return $$"""
            mkdir -p /etc/kubernetes/pki /etc/kubernetes/manifests
            cd /etc/kubernetes/pki
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=kubernetes -days 3650 2>/dev/null
            issue() { # subject, days, path without extension, [subjectAltName]
              openssl req -new -newkey rsa:2048 -nodes -keyout "$3.key" -subj "$1" 2>/dev/null \
                | openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days "$2" -out "$3.crt" ${4:+-extfile <(echo "subjectAltName=$4")} 2>/dev/null
            }
            issue /CN=kube-apiserver {{Days("apiserver")}} /etc/kubernetes/pki/apiserver DNS:node1,IP:10.240.0.2
            issue /CN=kube-apiserver-kubelet-client {{Days("apiserver-kubelet-client")}} /etc/kubernetes/pki/apiserver-kubelet-client
            issue /CN=front-proxy-client {{Days("front-proxy-client")}} /etc/kubernetes/pki/front-proxy-client
            {{kubeconfigs}}
            for c in kube-apiserver kube-controller-manager kube-scheduler; do echo "{name: $c}" > /etc/kubernetes/manifests/$c.yaml; done
            """;
    }

    private (int Exit, string Output) Run(int renewBeforeDays, Dictionary<string, int> days, string inspect = "") =>
        _node.Run(Render.KubeadmCerts("node1", Now.AddDays(renewBeforeDays).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), waitSeconds: 5) + inspect,
            scratch: ["/etc/kubernetes"], prepare: Prepare(days));

    private const string Ends = """

        for f in /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/front-proxy-client.crt; do echo "END $f $(openssl x509 -noout -enddate -in $f | cut -d= -f2)"; done
        for f in controller-manager.conf scheduler.conf; do echo "END $f $(sed -n 's/^ *client-certificate-data: *//p' /etc/kubernetes/$f | base64 -d | openssl x509 -noout -enddate | cut -d= -f2)"; done
        echo "SANS $(openssl x509 -noout -ext subjectAltName -in /etc/kubernetes/pki/apiserver.crt | tail -n 1 | tr -d ' ')"
        ls /etc/kubernetes/manifests | tr '\n' ' '
        """;

    private static DateTime EndOf(string output, string file)
    {
        var line = output.Split('\n').Single(l => l.StartsWith($"END {file} ", StringComparison.Ordinal));
        var text = line[$"END {file} ".Length..].Replace(" GMT", "", StringComparison.Ordinal);
        return DateTime.ParseExact(System.Text.RegularExpressions.Regex.Replace(text, " +", " "), "MMM d HH:mm:ss yyyy", CultureInfo.InvariantCulture);
    }

    [Test]
    public void WhatEndsBeforeTheClockIsRenewedAndWhatReadsItRestartedOnce()
    {
        var (exit, output) = Run(renewBeforeDays: 300, new() { ["apiserver"] = 10, ["front-proxy-client"] = 20, ["scheduler.conf"] = 10, ["controller-manager.conf"] = 400 }, Ends);

        Assert.That(exit, Is.Zero, output);
        var renewed = _node.Log.Split('\n').Where(l => l.StartsWith("kubeadm certs renew ", StringComparison.Ordinal)).ToList();
        Assert.That(renewed, Is.EqualTo(new[] { "kubeadm certs renew apiserver", "kubeadm certs renew front-proxy-client", "kubeadm certs renew scheduler.conf" }),
            "those that end before the clock; those of a year end after it");
        foreach (var file in new[] { "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/front-proxy-client.crt", "scheduler.conf" })
        {
            Assert.That(EndOf(output, file), Is.EqualTo(Now.AddDays(365)).Within(TimeSpan.FromHours(1)), file);
        }
        Assert.That(EndOf(output, "controller-manager.conf"), Is.EqualTo(Now.AddDays(400)).Within(TimeSpan.FromHours(1)), "not due: kept");
        Assert.That(output, Does.Contain("SANS DNS:node1,IPAddress:10.240.0.2"), "the renewed certificate keeps its names");
        // The API server once for its three certificates, the scheduler once; the controller-manager not.
        Assert.That(output.Split('\n').Where(l => l.StartsWith("restarted ", StringComparison.Ordinal)),
            Is.EqualTo(new[] { "restarted node1's kube-apiserver with its renewed certificate", "restarted node1's kube-scheduler with its renewed certificate" }));
        Assert.That(output, Does.Contain("kube-apiserver.yaml kube-controller-manager.yaml kube-scheduler.yaml"), "every manifest back in place");
        Assert.That(output, Does.Match(@"kubeadm-certificates-end=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"));
    }

    [Test]
    public void NothingDueRenewsNothingAndRestartsNothing()
    {
        var (exit, output) = Run(renewBeforeDays: 300, []);

        Assert.That(exit, Is.Zero, output);
        Assert.That(_node.Log, Does.Not.Contain("kubeadm certs renew"));
        Assert.That(output, Does.Not.Contain("restarted"));
        Assert.That(output, Does.Contain("node1 apiserver ends ").And.Contain("node1 scheduler.conf ends "));
        var end = DateTime.Parse(HealthGateField(output), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        Assert.That(end, Is.EqualTo(Now.AddDays(365)).Within(TimeSpan.FromHours(1)), "the earliest end is reported");
    }

    private static string HealthGateField(string output) => Components.HealthGate.Field(output, "kubeadm-certificates-end");
}
