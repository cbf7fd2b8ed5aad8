using System.Security.Cryptography.X509Certificates;
using System.Text;
using DoK8sHa.Config;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>
/// A stack made by the release that generated its CAs with openssl keeps them: its old PKI step's
/// output, given back as config legacyPki, is parsed and checked before anything is created, and
/// the TLS provider then issues every leaf from those CAs and makes no CA or service-account key.
/// </summary>
public class LegacyPkiTests
{
    /// <summary>What the old pki-generate step printed (cluster-pki.sh): "file base64" lines.</summary>
    private static string OldStepOutput(ClusterPkiMaterialFiles files, params string[] leaveOut) =>
        string.Join("\n", files.All.Where(f => !leaveOut.Contains(f.Key)).Select(f => $"{f.Key} {Convert.ToBase64String(Encoding.UTF8.GetBytes(f.Value))}"))
        + "\nca-cert-hash sha256:00\nbootstrap-token abcdef.0123456789abcdef\n";

    /// <summary>A real PKI of another stack, as the old script's files.</summary>
    private sealed record ClusterPkiMaterialFiles(IReadOnlyDictionary<string, string> All)
    {
        public static ClusterPkiMaterialFiles From(Scripts.ClusterPkiMaterial m) => new(new Dictionary<string, string>
        {
            ["ca.crt"] = m.CaCert,
            ["ca.key"] = m.CaKey,
            ["front-proxy-ca.crt"] = m.FrontProxyCaCert,
            ["front-proxy-ca.key"] = m.FrontProxyCaKey,
            ["etcd-ca.crt"] = m.EtcdCaCert,
            ["etcd-ca.key"] = m.EtcdCaKey,
            ["apiserver-etcd-client.crt"] = m.ApiServerEtcdClientCert,
            ["apiserver-etcd-client.key"] = m.ApiServerEtcdClientKey,
            ["admin.crt"] = m.AdminCert,
            ["admin.key"] = m.AdminKey,
            ["sa.key"] = m.ServiceAccountKey,
            ["sa.pub"] = m.ServiceAccountPublicKey,
        });
    }

    private static readonly ClusterPkiMaterialFiles Old = ClusterPkiMaterialFiles.From(RealPki.Material);

    /// <summary>What every legacyPki problem tells the user to do.</summary>
    private const string Fix = ". Fix: set it to the old `pki-generate` step's stdout (docs/certificates.md \"Upgrading from an openssl PKI\")";

    private static LegacyPki? Parse(string text, List<string> problems) =>
        LegacyPki.Parse(text, (key, what, fix) => problems.Add($"{key}: {what}. Fix: {fix}"));

    [Test]
    public void TheOldStepsOutputGivesBackItsCasAndServiceAccountKey()
    {
        var problems = new List<string>();

        var legacy = Parse(OldStepOutput(Old), problems);

        Assert.That(problems, Is.Empty);
        Assert.That(legacy!.CaCert.TrimEnd(), Is.EqualTo(Old.All["ca.crt"].TrimEnd()));
        Assert.That(legacy.EtcdCaKey.TrimEnd(), Is.EqualTo(Old.All["etcd-ca.key"].TrimEnd()));
        Assert.That(legacy.ServiceAccountKey.TrimEnd(), Is.EqualTo(Old.All["sa.key"].TrimEnd()));
    }

    [Test]
    public void AMissingFileOrAKeyOfAnotherCaIsRefusedWithWhatToSet()
    {
        var problems = new List<string>();
        Parse(OldStepOutput(Old, leaveOut: "sa.pub"), problems);
        Assert.That(problems, Has.One.StartWith("legacyPki: has no sa.pub. Fix: set it to the old `pki-generate` step's stdout"));

        problems.Clear();
        var swapped = new Dictionary<string, string>(Old.All) { ["ca.key"] = Old.All["etcd-ca.key"] };
        Parse(OldStepOutput(new ClusterPkiMaterialFiles(swapped)), problems);
        Assert.That(problems, Has.One.StartWith("legacyPki: ca.crt is not a CA certificate of ca.key"));

        problems.Clear();
        swapped = new Dictionary<string, string>(Old.All) { ["etcd-ca.key"] = Old.All["ca.key"] };
        Parse(OldStepOutput(new ClusterPkiMaterialFiles(swapped)), problems);
        Assert.That(problems, Is.EqualTo(new[] { "legacyPki: etcd-ca.crt is not a CA certificate of etcd-ca.key" + Fix }));

        // A missing key is named once: its certificate is not also judged against nothing.
        problems.Clear();
        Parse(OldStepOutput(Old, leaveOut: "ca.key"), problems);
        Assert.That(problems, Is.EqualTo(new[] { "legacyPki: has no ca.key" + Fix }));
        problems.Clear();
        Parse(OldStepOutput(Old, leaveOut: "ca.crt"), problems);
        Assert.That(problems, Is.EqualTo(new[] { "legacyPki: has no ca.crt" + Fix }));

        // A certificate with its own key, but no CA: without basic constraints it may sign nothing.
        problems.Clear();
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=front-proxy-ca", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var plain = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
            var notCa = new Dictionary<string, string>(Old.All) { ["front-proxy-ca.crt"] = plain.ExportCertificatePem(), ["front-proxy-ca.key"] = key.ExportPkcs8PrivateKeyPem() };
            Parse(OldStepOutput(new ClusterPkiMaterialFiles(notCa)), problems);
        }
        Assert.That(problems, Has.One.StartWith("legacyPki: front-proxy-ca.crt is not a CA certificate of front-proxy-ca.key. Fix: "));

        problems.Clear();
        Parse("ca.crt not-base64!\n", problems);
        Assert.That(problems, Does.Contain("legacyPki: the value of ca.crt is not base64" + Fix));
    }

    [Test]
    public async Task TheKeptCasSignEveryLeafAndNoCaOrServiceAccountKeyIsMade()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:legacyPki"] = OldStepOutput(Old);
        var mocks = (await StackRun.RunAsync("dev", config, new ClusterMocks { Tls = new TlsStandIn() })).Mocks;

        // No CA and no service-account key of the TLS provider: the old ones stay. The one CA made
        // is the kubelets' serving CA, which no openssl-era PKI had.
        Assert.That(mocks.OfType("tls:index/selfSignedCert:SelfSignedCert").Where(c => !c.Name.EndsWith(".clock", StringComparison.Ordinal)).Select(c => c.Name), Is.EqualTo(new[] { "pki-kubelet-serving-ca" }), "no other CA (the renewal clocks sign nothing)");
        Assert.That(mocks.OfType("tls:index/privateKey:PrivateKey").Select(k => k.Name), Has.None.AnyOf("pki-ca", "pki-front-proxy-ca", "pki-etcd-ca", "pki-sa"));
        // Every leaf is signed by the kept CA of its kind.
        foreach (var (leaf, ca) in new[] { ("pki-admin", "ca.crt"), ("pki-operator", "ca.crt"), ("pki-apiserver-etcd-client", "etcd-ca.crt"), ("node1.etcd-member", "etcd-ca.crt") })
        {
            var signed = mocks.OfType("tls:index/locallySignedCert:LocallySignedCert").Single(c => c.Name.EndsWith(leaf, StringComparison.Ordinal));
            Assert.That(signed.Input("caCertPem").TrimEnd(), Is.EqualTo(Old.All[ca].TrimEnd()), leaf);
        }
        // The nodes get the same CA and service-account files they have: nothing is re-keyed.
        var credentials = Input(mocks.Named("control-plane-node1.credentials"), "create");
        foreach (var file in new[] { "ca.crt", "ca.key", "front-proxy-ca.crt", "sa.key", "sa.pub" })
        {
            Assert.That(credentials, Does.Contain(Old.All[file].TrimEnd()), file);
        }
        // The API server's etcd client certificate the node gets is signed by the kept etcd CA.
        var marker = "apiserver-etcd-client.crt\" 0644 <<'PEM'\n";
        var start = credentials.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        using var client = X509Certificate2.CreateFromPem(credentials.AsSpan(start, credentials.IndexOf("\nPEM", start, StringComparison.Ordinal) - start));
        using var etcdCa = X509Certificate2.CreateFromPem(Old.All["etcd-ca.crt"]);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(etcdCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.That(chain.Build(client), Is.True, string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
        Assert.That(Input(mocks.Named("etcd-node1.credentials"), "create"), Does.Contain(Old.All["etcd-ca.crt"].TrimEnd()).And.Not.Contain(Old.All["etcd-ca.key"].TrimEnd()), "an etcd node gets the CA certificate, never its key");
    }
}
