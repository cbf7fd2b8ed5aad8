using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// Certificates over time: the TLS provider renews a leaf on the first `pulumi up` inside its
/// renewal window (TlsStandIn models its rule), the renewed certificate reaches the nodes through
/// the steps that carry it, and the health gate reports what is close to expiry.
/// </summary>
public class CertificateTests
{
    private static readonly DateTimeOffset Created = new(2026, 1, 10, 12, 0, 0, TimeSpan.Zero);

    private static async Task<ClusterMocks> UpAt(TlsStandIn tls, int day)
    {
        tls.Now = Created.AddDays(day);
        return (await StackRun.RunAsync("dev", StackRun.StackConfig("dev"), new ClusterMocks { Tls = tls })).Mocks;
    }

    private static Dictionary<string, string> Stdin(ClusterMocks mocks) =>
        mocks.OfType("command:remote:Command").ToDictionary(c => c.Name, c => c.Inputs.TryGetValue("stdin", out var s) ? s.ToString()! : "");

    [Test]
    public async Task ALeafInsideItsRenewalWindowIsReissuedAndReachesTheNodes()
    {
        var tls = new TlsStandIn();
        var created = await UpAt(tls, 0);
        var issuedAtCreation = new Dictionary<string, int>(tls.Issued);

        // Day 20: nothing is due; every step is as it was.
        var quiet = await UpAt(tls, 20);
        Assert.That(tls.Issued, Is.EquivalentTo(issuedAtCreation));
        Assert.That(Stdin(quiet), Is.EquivalentTo(Stdin(created)));

        // Day 31: the operator's 90-day certificate is in its last 60 days; nothing else is.
        await UpAt(tls, 31);
        Assert.That(tls.Issued.Where(i => i.Value > issuedAtCreation[i.Key]).Select(i => i.Key), Is.EquivalentTo(new[] { "pki-operator" }));

        // Day 306: every one-year leaf is in its last 60 days; the CAs are not renewed in place.
        var renewed = await UpAt(tls, 306);
        Assert.That(tls.Issued.Where(i => i.Value > issuedAtCreation[i.Key]).Select(i => i.Key), Is.EquivalentTo(new[]
        {
            "pki-operator", "pki-apiserver-etcd-client", "pki-admin", "pki-node1.etcd-member", "pki-node2.etcd-member", "pki-node3.etcd-member",
            "pki-node1.etcd-snapshot", "pki-node2.etcd-snapshot", "pki-node3.etcd-snapshot",
            "pki-node1.kubelet-serving", "pki-node2.kubelet-serving", "pki-node3.kubelet-serving",
            // kubeadm's certificates on each control-plane node, by their renewal clocks.
            "kubeadm-certs-node1.clock", "kubeadm-certs-node2.clock",
        }));
        Assert.That(tls.Issued["pki-ca"], Is.EqualTo(1));

        // Only the steps that install credentials run again, with the renewed certificates: not
        // etcd's or kubeadm's own steps, which would all run at once. (The snapshot steps restart
        // nothing: each installs its client and takes a snapshot.)
        var (before, after) = (Stdin(created), Stdin(renewed));
        Assert.That(after.Where(a => before[a.Key] != a.Value).Select(a => a.Key), Is.EquivalentTo(new[]
        {
            "control-plane-node1.credentials", "control-plane-node2.credentials", "etcd-node1.credentials", "etcd-node2.credentials", "etcd-node3.credentials",
            "snapshots-node1", "snapshots-node2", "snapshots-node3", "kubeadm-certs-node1", "kubeadm-certs-node2",
            // The kubelets read a renewed serving certificate from disk: no restart.
            "kubelet-serving-node1", "kubelet-serving-node2", "kubelet-serving-node3",
        }));
        // kubeadm's own certificates: each control-plane node renews what ends before its clock's new end.
        Assert.That(after["kubeadm-certs-node1"], Does.Contain($"RENEW_BEFORE='{Created.AddDays(306 + 365):yyyy-MM-ddTHH:mm:ssZ}'"));
        // One node at a time: each node's credentials wait for the previous node's, so a
        // certificate that breaks a node stops the roll there.
        foreach (var chain in new[] { new[] { "etcd-node1.credentials", "etcd-node2.credentials", "etcd-node3.credentials" }, ["control-plane-node1.credentials", "control-plane-node2.credentials"], ["kubeadm-certs-node1", "kubeadm-certs-node2"], ["kubelet-serving-node1", "kubelet-serving-node2"] })
        {
            foreach (var (previous, next) in chain.Zip(chain.Skip(1)))
            {
                Assert.That(renewed.Named(next).RegisteredAt, Is.GreaterThan(renewed.Named(previous).CompletedAt), $"{next} waits for {previous}");
            }
        }
        // And the gate runs again, to report what is still close to expiry.
        Assert.That(renewed.Named("health-check").Inputs["triggers"], Is.Not.EqualTo(created.Named("health-check").Inputs["triggers"]));
    }
}

/// <summary>cert-expiry.sh with real certificates made by openssl, of chosen lifetimes.</summary>
public class CertExpiryScriptTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir()
    {
        Repo.RequireTool("openssl", "apt-get install openssl");
        _dir = Directory.CreateTempSubdirectory("do-k8s-ha-expiry-").FullName;
    }

    [TearDown]
    public void RemoveDir()
    {
        if (_dir.Length > 0)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private string Cert(string path, int days)
    {
        var file = Path.Combine(_dir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var made = Repo.Run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file + ".key", "-out", file, "-days", $"{days}", "-subj", "/CN=test"]);
        Assert.That(made.ExitCode, Is.Zero, made.Stderr);
        return file;
    }

    [Test]
    public void ReportsEveryCertificateAndEmbeddedClientCertificateCloseToExpiry()
    {
        var soon = Cert("pki/apiserver.crt", 10);
        Cert("pki/ca.crt", 3650);
        var etcdSoon = Cert("pki/etcd/peer.crt", 29);
        var client = Cert("client.pem", 5);
        var conf = Path.Combine(_dir, "admin.conf");
        File.WriteAllText(conf, $"users:\n- name: admin\n  user:\n    client-certificate-data: {Convert.ToBase64String(File.ReadAllBytes(client))}\n    client-key-data: X\n");
        var kubelet = Path.Combine(_dir, "kubelet.conf");
        File.WriteAllText(kubelet, "users:\n- name: node\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n");

        var result = Repo.Run("bash", ["-c", Render.CertExpiry(30, [Path.Combine(_dir, "pki")], [conf, kubelet, Path.Combine(_dir, "missing.conf")])]);

        Assert.That(result.ExitCode, Is.Zero, "a report, never a failure: " + result.Stderr);
        Assert.That(result.Stdout, Does.Contain($"warning: {soon} expires").And.Contain($"warning: {etcdSoon} expires").And.Contain($"warning: {conf} expires"));
        Assert.That(result.Stdout, Does.Not.Contain("ca.crt").And.Not.Contain("kubelet.conf"));
        Assert.That(result.Stdout, Does.Contain("certificates: 3 expiring within 30 days"));
    }
}
