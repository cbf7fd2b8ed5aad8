using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>The PKI scripts run for real with openssl: the CAs they make must verify what they sign.</summary>
public class PkiScriptTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir()
    {
        Repo.RequireTool("openssl", "apt-get install openssl");
        _dir = Directory.CreateTempSubdirectory("do-k8s-ha-pki-").FullName;
    }

    [TearDown]
    public void RemoveDir()
    {
        if (_dir.Length > 0)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    public void ClusterPkiMakesCasThatSignTheirCredentials()
    {
        var pki = RealPki.Material;
        Write("ca.crt", pki.CaCert);
        Write("admin.crt", pki.AdminCert);
        Write("etcd-ca.crt", pki.EtcdCaCert);
        Write("apiserver-etcd-client.crt", pki.ApiServerEtcdClientCert);

        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("admin.crt")).ExitCode, Is.Zero);
        Assert.That(OpenSsl("verify", "-CAfile", F("etcd-ca.crt"), F("apiserver-etcd-client.crt")).ExitCode, Is.Zero);
        // Crossed: the etcd CA must not vouch for the admin, nor the cluster CA for etcd clients.
        Assert.That(OpenSsl("verify", "-CAfile", F("etcd-ca.crt"), F("admin.crt")).ExitCode, Is.Not.Zero);
        Assert.That(OpenSsl("x509", "-in", F("admin.crt"), "-noout", "-subject").Stdout, Does.Contain("O = kubeadm:cluster-admins, CN = kubernetes-admin"));
        Assert.That(pki.BootstrapToken, Does.Match("^[a-z0-9]{6}\\.[a-z0-9]{16}$"));
        Assert.That(pki.ServiceAccountKey, Does.Contain("PRIVATE KEY"));
        Assert.That(pki.ServiceAccountPublicKey, Does.Contain("PUBLIC KEY"));
    }

    [Test]
    public void DiscoveryHashIsTheSha256OfTheCaPublicKey()
    {
        var pki = RealPki.Material;
        Write("ca.crt", pki.CaCert);
        var der = Repo.Run("bash", ["-c", $"openssl x509 -pubkey -noout -in {F("ca.crt")} | openssl pkey -pubin -outform der | sha256sum"]);
        Assert.That(pki.CaCertHash, Is.EqualTo("sha256:" + der.Stdout.Split(' ')[0]));
    }

    [Test]
    public void EtcdCertsIssuesAMemberCertificateForItsIpAndKeepsItOnASecondRun()
    {
        var pki = RealPki.Material;
        var script = Render.EtcdCerts(new NodeAddress("node1", "10.240.0.2"), pki.EtcdCaCert, pki.EtcdCaKey, pkiDir: _dir);

        var first = Repo.Run("bash", ["-c", script]);
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Stdout, Does.Contain("issued the etcd certificate of node1"));
        var issued = File.ReadAllText(F("member.crt"));

        var second = Repo.Run("bash", ["-c", script]);
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.That(second.Stdout, Does.Contain("is current"));
        Assert.That(File.ReadAllText(F("member.crt")), Is.EqualTo(issued), "a second run must keep the certificate");

        var sans = OpenSsl("x509", "-in", F("member.crt"), "-noout", "-ext", "subjectAltName").Stdout;
        Assert.That(sans, Does.Contain("IP Address:10.240.0.2").And.Contain("IP Address:127.0.0.1").And.Contain("DNS:node1"));
        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("member.crt")).ExitCode, Is.Zero);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(F("member.key")) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead), Is.EqualTo(UnixFileMode.None));
        }
    }

    [Test]
    public void EtcdCertsReissuesWhenTheAddressChanges()
    {
        var pki = RealPki.Material;
        Assert.That(Repo.Run("bash", ["-c", Render.EtcdCerts(new NodeAddress("node1", "10.240.0.2"), pki.EtcdCaCert, pki.EtcdCaKey, _dir)]).ExitCode, Is.Zero);
        var moved = Repo.Run("bash", ["-c", Render.EtcdCerts(new NodeAddress("node1", "10.240.0.22"), pki.EtcdCaCert, pki.EtcdCaKey, _dir)]);
        Assert.That(moved.Stdout, Does.Contain("issued"));
        Assert.That(OpenSsl("x509", "-in", F("member.crt"), "-noout", "-ext", "subjectAltName").Stdout, Does.Contain("IP Address:10.240.0.22"));
    }

    private string F(string name) => Path.Combine(_dir, name);

    private void Write(string name, string pem) => File.WriteAllText(F(name), pem + "\n");

    private static (int ExitCode, string Stdout, string Stderr) OpenSsl(params string[] args) => Repo.Run("openssl", args);
}
