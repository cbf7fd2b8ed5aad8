using System.Security.Cryptography.X509Certificates;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>The PKI the program issues, checked with openssl, and the script that installs it on etcd nodes.</summary>
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
    public void TheProgramsCasSignTheirCredentialsAndNothingElse()
    {
        var pki = RealPki.Material;
        Write("ca.crt", pki.CaCert);
        Write("admin.crt", pki.AdminCert);
        Write("operator.crt", pki.OperatorCert);
        Write("etcd-ca.crt", pki.EtcdCaCert);
        Write("apiserver-etcd-client.crt", pki.ApiServerEtcdClientCert);

        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("admin.crt")).ExitCode, Is.Zero);
        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("operator.crt")).ExitCode, Is.Zero);
        Assert.That(OpenSsl("verify", "-CAfile", F("etcd-ca.crt"), F("apiserver-etcd-client.crt")).ExitCode, Is.Zero);
        // Crossed: the etcd CA must not vouch for the admin, nor the cluster CA for etcd clients.
        Assert.That(OpenSsl("verify", "-CAfile", F("etcd-ca.crt"), F("admin.crt")).ExitCode, Is.Not.Zero);
        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("apiserver-etcd-client.crt")).ExitCode, Is.Not.Zero);
        // The program's identity is kubeadm's admin group; the operators' is a group of their own.
        Assert.That(OpenSsl("x509", "-in", F("admin.crt"), "-noout", "-subject").Stdout, Does.Contain("O = kubeadm:cluster-admins, CN = kubernetes-admin"));
        Assert.That(OpenSsl("x509", "-in", F("operator.crt"), "-noout", "-subject").Stdout, Does.Match("O = do-k8s-ha:operators, CN = do-k8s-ha-operator-[0-9a-f]{12}"));
        Assert.That(OpenSsl("x509", "-in", F("admin.crt"), "-noout", "-ext", "extendedKeyUsage").Stdout, Does.Contain("TLS Web Client Authentication").And.Not.Contain("Server"));
        Assert.That(OpenSsl("x509", "-in", F("ca.crt"), "-noout", "-ext", "basicConstraints").Stdout, Does.Contain("CA:TRUE"));
        Assert.That(pki.ServiceAccountKey, Does.Contain("PRIVATE KEY"));
        Assert.That(pki.ServiceAccountPublicKey, Does.Contain("PUBLIC KEY"));
    }

    // kubeadm's key usages (cmd/kubeadm/app/util/pkiutil/pki_helpers.go NewSignedCert; client-go
    // util/cert NewSelfSignedCACert for its CAs): OpenSSL refuses an issuer without certificate
    // signing, and a TLS peer that checks key usage wants a signature from a client or server.
    [Test]
    public void EveryCertificateCarriesKubeadmsKeyUsages()
    {
        var pki = RealPki.Material;
        const X509KeyUsageFlags leaf = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment;
        X509KeyUsageFlags Usages(string pem)
        {
            using var cert = X509Certificate2.CreateFromPem(pem);
            return cert.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages;
        }

        Assert.That(new[] { pki.CaCert, pki.FrontProxyCaCert, pki.EtcdCaCert }.Select(Usages), Is.All.EqualTo(leaf | X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign));
        Assert.That(new[] { pki.AdminCert, pki.OperatorCert, pki.ApiServerEtcdClientCert, RealPki.Member(new NodeAddress("node1", "10.240.0.2")).Cert }.Select(Usages), Is.All.EqualTo(leaf));
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
    public void EtcdCertsInstallsTheMembersOwnCertificateAndNoCaKey()
    {
        var pki = RealPki.Material;
        var node = new NodeAddress("node1", "10.240.0.2");
        File.WriteAllText(F("ca.key"), "left by an earlier version\n");
        var script = Render.EtcdCerts(node, pki.EtcdCaCert, RealPki.Member(node), pkiDir: _dir);
        Assert.That(script, Does.Not.Contain(pki.EtcdCaKey.Split('\n')[2]), "the etcd CA key stays in the state");

        var first = Repo.Run("bash", ["-c", script]);
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Stdout, Does.Contain("installed the etcd certificate of node1"));
        Assert.That(File.Exists(F("ca.key")), Is.False, "a CA key an earlier version left is removed");
        var installed = File.ReadAllText(F("member.crt"));

        var second = Repo.Run("bash", ["-c", script]);
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.That(second.Stdout, Does.Contain("is current"));
        Assert.That(File.ReadAllText(F("member.crt")), Is.EqualTo(installed));

        var sans = OpenSsl("x509", "-in", F("member.crt"), "-noout", "-ext", "subjectAltName").Stdout;
        Assert.That(sans, Does.Contain("IP Address:10.240.0.2").And.Contain("IP Address:127.0.0.1"));
        // Its name too, and localhost, as kubeadm's etcd certificates carry (pki_helpers.go getAltNames).
        Assert.That(sans, Does.Contain("DNS:localhost").And.Match(@"DNS:member-10-240-0-2\b"));
        Assert.That(OpenSsl("x509", "-in", F("member.crt"), "-noout", "-ext", "extendedKeyUsage").Stdout, Does.Contain("Server Authentication").And.Contain("Client Authentication"));
        Assert.That(OpenSsl("verify", "-CAfile", F("ca.crt"), F("member.crt")).ExitCode, Is.Zero);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(F("member.key")) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead), Is.EqualTo(UnixFileMode.None));
        }
    }

    [Test]
    public void EtcdCertsRefusesACertificateForAnotherAddressOrAnotherCa()
    {
        var pki = RealPki.Material;
        var other = RealPki.Member(new NodeAddress("node2", "10.240.0.3"));
        var wrongIp = Repo.Run("bash", ["-c", Render.EtcdCerts(new NodeAddress("node1", "10.240.0.2"), pki.EtcdCaCert, other, _dir)]);
        Assert.That(wrongIp.ExitCode, Is.Not.Zero);
        Assert.That(wrongIp.Stderr, Does.Contain("does not name 10.240.0.2"));
        Assert.That(File.Exists(F("member.crt")), Is.False, "nothing lands when a check fails");

        File.WriteAllText(F("ca.crt"), pki.CaCert + "\n");
        var otherCa = Repo.Run("bash", ["-c", Render.EtcdCerts(new NodeAddress("node2", "10.240.0.3"), pki.EtcdCaCert, other, _dir)]);
        Assert.That(otherCa.ExitCode, Is.Not.Zero);
        Assert.That(otherCa.Stderr, Does.Contain("trusts another etcd CA"));
    }

    private string F(string name) => Path.Combine(_dir, name);

    private void Write(string name, string pem) => File.WriteAllText(F(name), pem + "\n");

    private static (int ExitCode, string Stdout, string Stderr) OpenSsl(params string[] args) => Repo.Run("openssl", args);
}
