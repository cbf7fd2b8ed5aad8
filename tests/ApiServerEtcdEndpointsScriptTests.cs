using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered apiserver-etcd-endpoints.sh run for real on a kubeadm-shaped static pod manifest
/// and kubeadm-config, with stand-ins for kubectl (the ConfigMap is a file), pgrep (the running
/// API server is what the manifest says, as the kubelet makes it) and curl.
/// </summary>
[NonParallelizable]
public class ApiServerEtcdEndpointsScriptTests
{
    private static readonly string[] Before = ["https://10.240.0.2:2379", "https://10.240.0.3:2379", "https://10.240.0.4:2379"];

    // etcd node3 replaced (new address), and a fourth member.
    private static readonly string[] After = ["https://10.240.0.2:2379", "https://10.240.0.3:2379", "https://10.240.0.9:2379", "https://10.240.0.10:2379"];

    private StubbedNode _node = null!;

    private string Manifest => _node.StatePath("kube-apiserver.yaml");

    [SetUp]
    public void Stubs()
    {
        _node = new StubbedNode();
        _node.WriteState("kube-apiserver.yaml", ApiServerManifest(Before));
        _node.WriteState("cluster-config", StoredClusterConfiguration(Before));
        MakeCertificates(["cp1", "kubernetes", "10.240.0.2", .. CertSans]);
        _node.Stub("pgrep", """
            running="kube-apiserver $(sed -n 's/^ *- \(--.*\)/\1/p' "$STATE/kube-apiserver.yaml" | tr '\n' ' ')"
            [ -f "$STATE/apiserver-down" ] && exit 1
            for arg in "$@"; do pattern=$arg; done
            grep -E -- "$pattern" <<<"4242 $running"
            """);
        _node.Stub("curl");
        _node.Stub("kubectl", """
            case " $* " in
              *" get configmap kubeadm-config "*) cat "$STATE/cluster-config" ;;
              *" patch configmap kubeadm-config "*)
                for arg in "$@"; do [ "$prev" = -p ] && patch=$arg; prev=$arg; done
                jq -r '.data.ClusterConfiguration' <<<"$patch" > "$STATE/cluster-config" ;;
              *) exit 1 ;;
            esac
            """);
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private static readonly NodeAddress Cp1 = new("cp1", "10.240.0.2");

    /// <summary>What StoredClusterConfiguration names, and the certificate made in <see cref="Stubs"/> too.</summary>
    private static readonly string[] CertSans = ["127.0.0.1", "localhost"];

    private string Pki => _node.StatePath("pki");

    private (int Exit, string Output) Run(string[] endpoints, int waitSeconds = 30, IReadOnlyList<(string Name, string Value)>? flags = null, string[]? certSans = null) =>
        _node.Run(Render.ApiServerEtcdEndpointsScript(Cp1, endpoints, certSans ?? CertSans, waitSeconds, manifest: Manifest, pki: Pki, flags: flags), scratch: []);

    /// <summary>A cluster CA and an API server certificate it signed for these names, as kubeadm made them.</summary>
    private void MakeCertificates(params string[] names)
    {
        Directory.CreateDirectory(Pki);
        var sans = string.Join(",", names.Select(n => char.IsDigit(n[0]) ? $"IP:{n}" : $"DNS:{n}"));
        var script = $"""
            set -e
            cd {Pki}
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=kubernetes -days 1 2>/dev/null
            openssl req -new -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
            openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile <(echo "subjectAltName={sans}") -out apiserver.crt 2>/dev/null
            """;
        var (exit, _, stderr) = Repo.Run("bash", ["-c", script]);
        Assert.That(exit, Is.Zero, stderr);
    }

    [Test]
    public void NewMembersReachTheManifestAndKubeadmsStoredConfig()
    {
        Repo.RequireTool("jq", "apt-get install jq");

        var (exit, output) = Run(After);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("restarting cp1's API server with --etcd-servers=" + string.Join(",", After)));
        var manifest = File.ReadAllText(Manifest);
        Assert.That(manifest, Does.Contain("    - --etcd-servers=" + string.Join(",", After) + "\n"));
        Assert.That(manifest.Replace(string.Join(",", After), string.Join(",", Before), StringComparison.Ordinal), Is.EqualTo(ApiServerManifest(Before)), "only the etcd line changes");

        Assert.That(output, Does.Contain("kubeadm-config now names etcd at"));
        var stored = File.ReadAllText(_node.StatePath("cluster-config"));
        Assert.That(EtcdEndpointsIn(stored), Is.EqualTo(After));
        Assert.That(stored.TrimEnd('\n'), Is.EqualTo(StoredClusterConfiguration(After).TrimEnd('\n')), "nothing else in the ClusterConfiguration changes");
    }

    [Test]
    public void ASecondRunChangesNothing()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        Assert.That(Run(After).Exit, Is.Zero);
        File.Delete(_node.StatePath("log"));
        var manifest = File.ReadAllText(Manifest);

        var (exit, output) = Run(After);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("cp1's API server uses etcd at").And.Not.Contains("restarting").And.Not.Contains("kubeadm-config now"));
        Assert.That(File.ReadAllText(Manifest), Is.EqualTo(manifest));
        Assert.That(_node.Log, Does.Not.Contain("patch"));
    }

    [Test]
    public void AnApiServerThatDoesNotComeBackStopsTheRolloutBeforeTheStoredConfig()
    {
        _node.WriteState("apiserver-down", "");

        var (exit, output) = Run(After, waitSeconds: 2);

        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("cp1's API server did not come back ready with --etcd-servers="));
        Assert.That(_node.Log, Does.Not.Contain("patch"), "the next node's step does not run either: the program chains them");
    }

    [Test]
    public void TheStoredConfigIsFoundInTheProgramsOwnLayoutToo()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        // The layout kubeadm-cluster.yaml renders: list items indented under the key.
        var ours = Render.KubeadmInitConfig(Fixtures.Cluster, Fixtures.Node1, schedulable: false);
        var clusterConfiguration = ours[ours.IndexOf("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration", StringComparison.Ordinal)..];
        clusterConfiguration = clusterConfiguration[..clusterConfiguration.IndexOf("---", StringComparison.Ordinal)];
        _node.WriteState("cluster-config", clusterConfiguration);

        var (exit, output) = Run(After);

        Assert.That(exit, Is.Zero, output);
        Assert.That(EtcdEndpointsIn(File.ReadAllText(_node.StatePath("cluster-config"))), Is.EqualTo(After));
    }

    // The audit log's rotation, changed after creation, reaches the manifest and kubeadm-config
    // the same way, one control-plane node at a time (seen failing before: the script knew only
    // --etcd-servers, and the program refused the change).
    [Test]
    public void AChangedAuditRotationReachesTheManifestAndKubeadmsStoredConfig()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        _node.WriteState("kube-apiserver.yaml", ApiServerManifest(Before).Replace("    - --secure-port=6443\n", "    - --audit-log-maxage=30\n    - --audit-log-maxbackup=10\n    - --audit-log-maxsize=100\n    - --secure-port=6443\n", StringComparison.Ordinal));
        _node.WriteState("cluster-config", StoredClusterConfiguration(Before).Replace("  - localhost\n", "  - localhost\n  extraArgs:\n  - name: audit-log-maxage\n    value: \"30\"\n  - name: audit-log-maxbackup\n    value: \"10\"\n  - name: audit-log-maxsize\n    value: \"100\"\n  - name: profiling\n    value: \"false\"\n", StringComparison.Ordinal));
        var flags = AuditFlags(new Config.AuditLogSettings(90, 20, 200));

        var (exit, output) = Run(Before, flags: flags);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("restarting cp1's API server with --audit-log-maxage=90 --audit-log-maxbackup=20 --audit-log-maxsize=200"));
        Assert.That(File.ReadAllText(Manifest), Does.Contain("    - --audit-log-maxage=90\n    - --audit-log-maxbackup=20\n    - --audit-log-maxsize=200\n    - --secure-port=6443\n"));
        var stored = File.ReadAllText(_node.StatePath("cluster-config"));
        Assert.That(stored, Does.Contain("  - name: audit-log-maxage\n    value: \"90\"\n  - name: audit-log-maxbackup\n    value: \"20\"\n  - name: audit-log-maxsize\n    value: \"200\"\n  - name: profiling\n    value: \"false\"\n"));
        Assert.That(EtcdEndpointsIn(stored), Is.EqualTo(Before), "etcd's members as they were");
    }

    // A certificate that lacks an address the API is now reached at is made again by kubeadm; if
    // kubeadm cannot, the old pair is put back and nothing else changes.
    [Test]
    public void ACertificateKubeadmCannotMakeAgainLeavesTheOldOneInPlace()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        _node.Stub("kubeadm", "echo 'error execution phase certs/apiserver: failure loading CA' >&2; exit 1");
        var before = File.ReadAllText(Path.Combine(Pki, "apiserver.crt"));
        var manifest = File.ReadAllText(Manifest);

        var (exit, output) = Run(Before, certSans: [.. CertSans, "198.51.100.10"]);

        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("kubeadm could not make cp1's API server certificate for 127.0.0.1 localhost 198.51.100.10; the old one is back"));
        Assert.That(_node.Log, Does.Contain("kubeadm init phase certs apiserver --config /etc/kubernetes/apiserver-certs."));
        Assert.That(File.ReadAllText(Path.Combine(Pki, "apiserver.crt")), Is.EqualTo(before));
        Assert.That(File.Exists(Path.Combine(Pki, "apiserver.key")), Is.True);
        Assert.That(File.ReadAllText(Manifest), Is.EqualTo(manifest));
        Assert.That(_node.Log, Does.Not.Contain("patch"));
    }

    // The names reach kubeadm's stored config in both layouts (kubeadm's, and the program's own).
    [Test]
    public void TheCertificateNamesReachKubeadmsStoredConfig()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        MakeCertificates(["cp1", "kubernetes", "10.240.0.2", .. CertSans, "198.51.100.10"]);

        var (exit, output) = Run(Before, certSans: [.. CertSans, "198.51.100.10"]);

        Assert.That(exit, Is.Zero, output);
        Assert.That(_node.Log, Does.Not.Contain("kubeadm init"), "the certificate names them already");
        var stored = File.ReadAllText(_node.StatePath("cluster-config"));
        Assert.That(stored, Does.StartWith("apiServer:\n  certSANs:\n  - 127.0.0.1\n  - localhost\n  - 198.51.100.10\napiVersion:"));
        Assert.That(stored.Replace("  - 198.51.100.10\n", "", StringComparison.Ordinal).TrimEnd('\n'), Is.EqualTo(StoredClusterConfiguration(Before).TrimEnd('\n')), "nothing else changes");
    }

    // A flag a newer release manages that the cluster's manifest and kubeadm-config lack (a
    // cluster made by an earlier release): it is added to both, and kubeadm-config stays YAML
    // kubeadm reads, one extraArgs entry per flag (seen failing first: "has no --audit-log-maxsize
    // flag to set").
    [TestCase(true, TestName = "AFlagANewReleaseManagesIsAddedBesideTheOtherExtraArgs")]
    [TestCase(false, TestName = "AFlagANewReleaseManagesIsAddedWhereKubeadmConfigHadNoExtraArgs")]
    public void AFlagANewReleaseManagesIsAddedToTheManifestAndKubeadmsStoredConfig(bool otherExtraArgs)
    {
        Repo.RequireTool("jq", "apt-get install jq");
        _node.WriteState("kube-apiserver.yaml", ApiServerManifest(Before).Replace("    - --secure-port=6443\n", "    - --audit-log-maxage=30\n    - --audit-log-maxbackup=10\n    - --secure-port=6443\n", StringComparison.Ordinal));
        var extraArgs = "  extraArgs:\n  - name: audit-log-maxage\n    value: \"30\"\n  - name: audit-log-maxbackup\n    value: \"10\"\n" + (otherExtraArgs ? "  - name: profiling\n    value: \"false\"\n" : "");
        _node.WriteState("cluster-config", StoredClusterConfiguration(Before).Replace("  - localhost\n", "  - localhost\n" + (otherExtraArgs ? extraArgs : ""), StringComparison.Ordinal));
        var flags = AuditFlags(new Config.AuditLogSettings(30, 10, 100));

        var (exit, output) = Run(Before, flags: flags);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("restarting cp1's API server with --audit-log-maxsize=100"));
        var manifest = File.ReadAllText(Manifest);
        Assert.That(manifest, Does.Contain("    - kube-apiserver\n").And.Contain("    - --audit-log-maxsize=100\n"));
        Assert.That(manifest.Replace("    - --audit-log-maxsize=100\n", "", StringComparison.Ordinal), Is.EqualTo(ApiServerManifest(Before).Replace("    - --secure-port=6443\n", "    - --audit-log-maxage=30\n    - --audit-log-maxbackup=10\n    - --secure-port=6443\n", StringComparison.Ordinal)), "one line is added");
        var stored = File.ReadAllText(_node.StatePath("cluster-config"));
        Assert.That(ExtraArgsIn(stored), Is.SupersetOf(new[] { ("audit-log-maxage", "30"), ("audit-log-maxbackup", "10"), ("audit-log-maxsize", "100") }));
        Assert.That(ExtraArgsIn(stored), Has.Count.EqualTo(otherExtraArgs ? 4 : 3));
        Assert.That(EtcdEndpointsIn(stored), Is.EqualTo(Before), "etcd's members as they were");

        File.Delete(_node.StatePath("log"));
        var (again, second) = Run(Before, flags: flags);
        Assert.That(again, Is.Zero, second);
        Assert.That(second, Does.Not.Contain("restarting"));
        Assert.That(_node.Log, Does.Not.Contain("patch"), "a second run changes nothing");
    }

    /// <summary>The managed flags of the audit log alone: the tests above are about them.</summary>
    private static List<(string Name, string Value)> AuditFlags(Config.AuditLogSettings audit) =>
        [.. Render.ManagedApiServerFlags(audit).Where(f => f.Name.StartsWith("audit-log-", StringComparison.Ordinal))];

    // A cluster made before the kubelet-serving CA: its API servers trusted the cluster CA for
    // kubelets, in the manifest and in kubeadm-config. Both now name the kubelet-serving CA, so
    // a later join or `kubeadm upgrade` keeps it (seen failing with the flag left out of the
    // managed ones: the manifest kept /etc/kubernetes/pki/ca.crt).
    [Test]
    public void AClusterMadeBeforeTrustsOnlyTheKubeletServingCaAfterward()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        const string old = "/etc/kubernetes/pki/ca.crt";
        _node.WriteState("kube-apiserver.yaml", ApiServerManifest(Before).Replace("    - --secure-port=6443\n", $"    - --audit-log-maxage=30\n    - --audit-log-maxbackup=10\n    - --audit-log-maxsize=100\n    - --kubelet-certificate-authority={old}\n    - --secure-port=6443\n", StringComparison.Ordinal));
        _node.WriteState("cluster-config", StoredClusterConfiguration(Before).Replace("  - localhost\n", $"  - localhost\n  extraArgs:\n  - name: audit-log-maxage\n    value: \"30\"\n  - name: audit-log-maxbackup\n    value: \"10\"\n  - name: audit-log-maxsize\n    value: \"100\"\n  - name: kubelet-certificate-authority\n    value: {old}\n", StringComparison.Ordinal));

        var (exit, output) = Run(Before, flags: Render.ManagedApiServerFlags(Config.AuditLogSettings.Default));

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain($"restarting cp1's API server with --kubelet-certificate-authority={Render.KubeletServingCaFile}\n"));
        var manifest = File.ReadAllText(Manifest);
        Assert.That(manifest, Does.Contain($"    - --kubelet-certificate-authority={Render.KubeletServingCaFile}\n").And.Not.Contain(old + "\n"));
        Assert.That(ExtraArgsIn(File.ReadAllText(_node.StatePath("cluster-config"))), Does.Contain(("kubelet-certificate-authority", Render.KubeletServingCaFile)).And.Not.Contain(("kubelet-certificate-authority", old)));
    }

    private static List<(string, string)> ExtraArgsIn(string clusterConfiguration)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(clusterConfiguration));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var extraArgs = (YamlSequenceNode)((YamlMappingNode)root["apiServer"])["extraArgs"];
        return [.. extraArgs.Children.Cast<YamlMappingNode>().Select(a => (((YamlScalarNode)a["name"]).Value!, ((YamlScalarNode)a["value"]).Value!))];
    }

    private static string[] EtcdEndpointsIn(string clusterConfiguration)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(clusterConfiguration));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var endpoints = (YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)root["etcd"])["external"])["endpoints"];
        return [.. endpoints.Children.Select(e => ((YamlScalarNode)e).Value!)];
    }

    // As kubeadm writes them (sorted keys, list items level with their key).
    private static string ApiServerManifest(string[] etcd) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          annotations:
            kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 10.240.0.2:6443
          labels:
            component: kube-apiserver
            tier: control-plane
          name: kube-apiserver
          namespace: kube-system
        spec:
          containers:
          - command:
            - kube-apiserver
            - --advertise-address=10.240.0.2
            - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
            - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
            - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
            - --etcd-servers={string.Join(",", etcd)}
            - --secure-port=6443
            image: registry.k8s.io/kube-apiserver:v1.35.1
            name: kube-apiserver

        """;

    private static string StoredClusterConfiguration(string[] etcd) => $"""
        apiServer:
          certSANs:
          - 127.0.0.1
          - localhost
        apiVersion: kubeadm.k8s.io/v1beta4
        certificatesDir: /etc/kubernetes/pki
        clusterName: k8s-dev
        controlPlaneEndpoint: 127.0.0.1:6443
        etcd:
          external:
            caFile: /etc/kubernetes/pki/etcd/ca.crt
            certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
            endpoints:
        {string.Join("\n", etcd.Select(e => "    - " + e))}
            keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
        kind: ClusterConfiguration
        kubernetesVersion: v1.35.1
        networking:
          dnsDomain: cluster.local
          podSubnet: 10.233.64.0/18

        """;
}
