using System.Collections;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using DoK8sHa.Components;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>
/// The hardened defaults (docs/hardening.md), asserted on what the program renders for the dev
/// stack: the API server's flags and mounts, the files those flags name, the kubelet's serving
/// certificates and whom they are trusted by.
/// </summary>
public class HardeningTests
{
    /// <summary>Pulumi.prod.yaml's vpcCidr: the mocks give prod's droplets addresses in it.</summary>
    private const string ProdVpc = "10.241.0.0/20";

    /// <summary>The documents of the kubeadm config a control-plane step writes (init.yaml).</summary>
    private static List<YamlMappingNode> KubeadmInit(string step)
    {
        var yaml = Regex.Match(step, @"cat > ""\$KUBEADM_DIR/init.yaml"" <<'YAML'\n(.*?)\nYAML\n", RegexOptions.Singleline).Groups[1].Value;
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static YamlMappingNode Kind(List<YamlMappingNode> docs, string kind) => docs.Single(d => d["kind"].ToString() == kind);

    private static Dictionary<string, string> Args(YamlMappingNode component) =>
        ((YamlSequenceNode)component["extraArgs"]).Cast<YamlMappingNode>().ToDictionary(a => a["name"].ToString(), a => a["value"].ToString());

    /// <summary>A file apiserver-config.sh installs, as it writes it.</summary>
    private static YamlMappingNode Installed(string script, string file)
    {
        var text = Regex.Match(script, $@"install_file {Regex.Escape(file)} <<'YAML'\n(.*?)\nYAML\n", RegexOptions.Singleline).Groups[1].Value;
        Assert.That(text, Is.Not.Empty, $"apiserver-config.sh installs {file}");
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    [Test]
    public async Task TheConfiguredAuditLogLimitsReachTheApiServers()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:auditLogMaxAgeDays"] = "7";
        config["do-k8s-ha:auditLogMaxBackups"] = "3";
        config["do-k8s-ha:auditLogMaxSizeMb"] = "50";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        var args = Args((YamlMappingNode)Kind(KubeadmInit(mocks.Named("control-plane-node1").Input("create")), "ClusterConfiguration")["apiServer"]);
        Assert.That((args["audit-log-maxage"], args["audit-log-maxbackup"], args["audit-log-maxsize"]), Is.EqualTo(("7", "3", "50")));
    }

    [Test]
    public async Task TheApiServerRunsWithTheHardeningFilesAndVerifiesKubelets()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var docs = KubeadmInit(mocks.Named("control-plane-node1").Input("create"));
        var cluster = Kind(docs, "ClusterConfiguration");
        var apiServer = (YamlMappingNode)cluster["apiServer"];
        var args = Args(apiServer);

        Assert.That(args, Does.ContainKey("audit-policy-file").WithValue($"{Render.HardeningDir}/audit-policy.yaml"));
        Assert.That(args, Does.ContainKey("audit-log-path").WithValue("/var/log/kubernetes/audit/audit.log"));
        Assert.That((args["audit-log-maxage"], args["audit-log-maxbackup"], args["audit-log-maxsize"]), Is.EqualTo(("30", "10", "100")));
        Assert.That(args, Does.ContainKey("admission-control-config-file").WithValue($"{Render.HardeningDir}/pod-security.yaml"));
        Assert.That(args, Does.ContainKey("authentication-config").WithValue($"{Render.HardeningDir}/anonymous-auth.yaml"));
        Assert.That(args, Does.ContainKey("encryption-provider-config").WithValue($"{Render.HardeningDir}/encryption-config.yaml"));
        Assert.That(args, Does.ContainKey("encryption-provider-config-automatic-reload").WithValue("true"));
        Assert.That(args, Does.ContainKey("kubelet-certificate-authority").WithValue(Render.KubeletServingCaFile));
        Assert.That(args, Does.ContainKey("profiling").WithValue("false"));
        // An AuthenticationConfiguration file and --anonymous-auth exclude each other.
        Assert.That(args, Does.Not.ContainKey("anonymous-auth"));
        Assert.That(Args((YamlMappingNode)cluster["controllerManager"]), Does.ContainKey("profiling").WithValue("false"));
        Assert.That(Args((YamlMappingNode)cluster["scheduler"]), Does.ContainKey("profiling").WithValue("false"));

        var volumes = ((YamlSequenceNode)apiServer["extraVolumes"]).Cast<YamlMappingNode>().ToDictionary(v => v["hostPath"].ToString(), v => v["readOnly"].ToString());
        Assert.That(volumes, Does.ContainKey(Render.HardeningDir).WithValue("true"));
        Assert.That(volumes, Does.ContainKey("/var/log/kubernetes/audit").WithValue("false"));

        // No kubelet asks the CSR API for its serving certificate: the drop-in names the program's.
        Assert.That(Kind(docs, "KubeletConfiguration").Children.Keys.Select(k => k.ToString()), Does.Not.Contain("serverTLSBootstrap"));
    }

    [Test]
    public async Task TheFilesAreInstalledBeforeKubeadmRunsAndSuperAdminIsRemovedAfter()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var credentials = mocks.Named("control-plane-node1.credentials");
        var kubeadm = mocks.Named("control-plane-node1");
        Assert.That(credentials.Input("create"), Does.Contain("\"$steps/apiserver-config.sh\" ||"));
        Assert.That(kubeadm.RegisteredAt, Is.GreaterThan(credentials.CompletedAt), "kubeadm runs after the files are in place");
        Assert.That(kubeadm.Input("create"), Does.Contain("rm -f /etc/kubernetes/super-admin.conf"));
    }

    [Test]
    public void TheAuditPolicyNeverRecordsBodiesOfCredentials()
    {
        var policy = Installed(Render.ApiServerConfig(Fixtures.Hardening, Fixtures.EncryptionKeys), "audit-policy.yaml");
        var rules = ((YamlSequenceNode)policy["rules"]).Cast<YamlMappingNode>().ToList();
        Assert.That(rules.Select(r => r["level"].ToString()), Is.All.AnyOf("None", "Metadata"), "no rule records request or response bodies");
        var secrets = rules.First(r => r.Children.ContainsKey("resources") && ((YamlSequenceNode)r["resources"]).Cast<YamlMappingNode>()
            .Any(g => ((YamlSequenceNode)g["resources"]).Select(x => x.ToString()).Contains("secrets")));
        Assert.That(secrets["level"].ToString(), Is.EqualTo("Metadata"));
        Assert.That(rules.Last().Children.Keys.Select(k => k.ToString()), Is.EqualTo(new[] { "level" }), "everything else is logged at metadata");
    }

    [Test]
    public void PodSecurityEnforcesBaselineAndWarnsRestrictedOutsideTheSystemNamespaces()
    {
        var admission = Installed(Render.ApiServerConfig(Fixtures.Hardening, Fixtures.EncryptionKeys), "pod-security.yaml");
        var plugin = ((YamlSequenceNode)admission["plugins"]).Cast<YamlMappingNode>().Single();
        Assert.That(plugin["name"].ToString(), Is.EqualTo("PodSecurity"));
        var configuration = (YamlMappingNode)plugin["configuration"];
        var defaults = (YamlMappingNode)configuration["defaults"];
        Assert.That((defaults["enforce"].ToString(), defaults["warn"].ToString(), defaults["audit"].ToString()), Is.EqualTo(("baseline", "restricted", "restricted")));
        var exempt = ((YamlSequenceNode)((YamlMappingNode)configuration["exemptions"])["namespaces"]).Select(n => n.ToString());
        Assert.That(exempt, Is.EquivalentTo(new[] { "kube-system", "tigera-operator", "calico-system" }));

        var custom = Fixtures.Hardening with { PodSecurity = new PodSecuritySettings("restricted", "restricted", "baseline", ["kube-system"]) };
        var strict = (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)Installed(Render.ApiServerConfig(custom, Fixtures.EncryptionKeys), "pod-security.yaml")["plugins"])[0])["configuration"];
        Assert.That(((YamlMappingNode)strict["defaults"])["enforce"].ToString(), Is.EqualTo("restricted"));
    }

    [Test]
    public void AnonymousRequestsReachOnlyHealthAndClusterInfo()
    {
        var authentication = Installed(Render.ApiServerConfig(Fixtures.Hardening, Fixtures.EncryptionKeys), "anonymous-auth.yaml");
        var anonymous = (YamlMappingNode)authentication["anonymous"];
        Assert.That(anonymous["enabled"].ToString(), Is.EqualTo("true"));
        var paths = ((YamlSequenceNode)anonymous["conditions"]).Cast<YamlMappingNode>().Select(c => c["path"].ToString());
        // cluster-info: kubeadm's token discovery reads it with no credential (discovery/token/token.go).
        Assert.That(paths, Is.EquivalentTo(new[] { "/livez", "/readyz", "/healthz", "/api/v1/namespaces/kube-public/configmaps/cluster-info" }));
    }

    [Test]
    public void SecretsAreEncryptedWithTheFirstKeyAndReadableWithEvery()
    {
        var encryption = Installed(Render.ApiServerConfig(Fixtures.Hardening, Fixtures.EncryptionKeys), "encryption-config.yaml");
        var resource = ((YamlSequenceNode)encryption["resources"]).Cast<YamlMappingNode>().Single();
        Assert.That(((YamlSequenceNode)resource["resources"]).Select(r => r.ToString()), Is.EqualTo(new[] { "secrets" }));
        var providers = ((YamlSequenceNode)resource["providers"]).Cast<YamlMappingNode>().ToList();
        Assert.That(providers.Select(p => p.Children.Keys.Single().ToString()), Is.EqualTo(new[] { "secretbox", "identity" }));
        var keys = ((YamlSequenceNode)((YamlMappingNode)providers[0]["secretbox"])["keys"]).Cast<YamlMappingNode>().ToList();
        Assert.That(keys.Select(k => (k["name"].ToString(), k["secret"].ToString())), Is.EqualTo(Fixtures.EncryptionKeys.Select(k => (k.Name, k.Secret))));

        Assert.Throws<ArgumentException>(() => Render.ApiServerConfig(Fixtures.Hardening, []));
        Assert.Throws<ArgumentException>(() => Render.ApiServerConfig(Fixtures.Hardening, [new SecretsEncryptionKey("short", Convert.ToBase64String(new byte[16]))]));
    }

    [Test]
    public async Task EncryptionKeysComeFromTheStateStayTheSameAndReachOnlyControlPlaneNodes()
    {
        var config = StackRun.StackConfig("dev");
        var first = (await StackRun.RunAsync("dev", config)).Mocks;
        var key1 = EncryptionKeysIn(first.Named("control-plane-node1.credentials").Input("create"));
        Assert.That(key1.Select(k => k.Name), Is.EqualTo(new[] { "key1" }));
        var seed = first.Named("pki-encryption-key1");
        Assert.That((seed.Input("algorithm"), seed.Input("ecdsaCurve")), Is.EqualTo(("ECDSA", "P256")));

        // Rotation's first step: a new key listed second. key1 keeps its value; key2 is new.
        config["do-k8s-ha:secretsEncryptionKeys"] = """["key1","key2"]""";
        var second = (await StackRun.RunAsync("dev", config)).Mocks;
        var both = EncryptionKeysIn(second.Named("control-plane-node2.credentials").Input("create"));
        Assert.That(both.Select(k => k.Name), Is.EqualTo(new[] { "key1", "key2" }));
        Assert.That(both[0].Secret, Is.EqualTo(key1[0].Secret));
        Assert.That(both[1].Secret, Is.Not.EqualTo(key1[0].Secret));

        foreach (var step in first.OfType(RemoteCommand))
        {
            var stdin = step.Inputs.TryGetValue("stdin", out var s) ? s?.ToString() ?? "" : "";
            if (stdin.Contains(key1[0].Secret, StringComparison.Ordinal))
            {
                Assert.That(step.Name, Does.StartWith("control-plane-"), $"{step.Name} carries the Secrets encryption key");
                Assert.That(stdin, Does.Contain("steps=$(mktemp -d /run/do-k8s-ha-steps.XXXXXX)"), $"{step.Name} keeps no file of its scripts");
            }
        }
    }

    private static List<SecretsEncryptionKey> EncryptionKeysIn(string step) =>
        [.. Regex.Matches(step, @"- name: ([a-z0-9-]+)\n\s+secret: ([A-Za-z0-9+/=]{44})").Select(m => new SecretsEncryptionKey(m.Groups[1].Value, m.Groups[2].Value))];

    [Test]
    public void EncryptionKeysAreDerivedFromTheirSeedAndName()
    {
        var seed = new TlsStandIn().Outputs("tls:index/privateKey:PrivateKey", "hardening-test-seed",
            System.Collections.Immutable.ImmutableDictionary<string, object>.Empty.Add("algorithm", "ECDSA").Add("ecdsaCurve", "P256"));
        var pem = (string)seed["privateKeyPemPkcs8"];
        var key = ClusterPki.DeriveEncryptionKey("key1", pem);
        Assert.That(Convert.FromBase64String(key), Has.Length.EqualTo(32));
        Assert.That(ClusterPki.DeriveEncryptionKey("key1", pem), Is.EqualTo(key));
        Assert.That(ClusterPki.DeriveEncryptionKey("key2", pem), Is.Not.EqualTo(key));
    }

    /// <summary>The PEM blocks a step's stdin carries, in order.</summary>
    private static List<string> PemBlocks(string stdin, string kind) =>
        [.. Regex.Matches(stdin, $"-----BEGIN {kind}-----\n.*?\n-----END {kind}-----", RegexOptions.Singleline).Select(m => m.Value)];

    /// <summary>The file control-plane-pki.sh installs at $PKI/<paramref name="file"/>, as the step carries it.</summary>
    private static string PkiFile(string stdin, string file) =>
        Regex.Match(stdin, $@"install_file ""\$PKI/{Regex.Escape(file)}"" 0644 <<'PEM'\n(.*?)\nPEM\n", RegexOptions.Singleline).Groups[1].Value;

    private static bool SignedBy(X509Certificate2 leaf, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    // Seen failing with the certificates issued for every node's address, and with the API
    // server's flag left on the cluster CA.
    [Test]
    public async Task EachKubeletServesACertificateForItsOwnNameAndAddressOnlyWhichAloneTheApiServersAndMetricsServerTrust()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        // Kubernetes nodes only (etcd-only nodes run no kubelet).
        var kubeletNodes = mocks.OfType("digitalocean:index/droplet:Droplet").Select(d => d.Input("name")).Where(n => !n.StartsWith("etcd", StringComparison.Ordinal)).ToList();
        var servingSteps = mocks.OfType("command:remote:Command").Where(c => c.Name.StartsWith("kubelet-serving-", StringComparison.Ordinal)).Select(c => c.Name).ToList();
        Assert.That(servingSteps, Is.EquivalentTo(kubeletNodes.Select(n => $"kubelet-serving-{n}")));

        var credentials = mocks.OfType("command:remote:Command").First(c => c.Name.StartsWith("control-plane-", StringComparison.Ordinal) && c.Name.EndsWith(".credentials", StringComparison.Ordinal)).Input("create");
        using var clusterCa = X509Certificate2.CreateFromPem(PkiFile(credentials, "ca.crt"));
        var servingCaPem = PkiFile(credentials, "kubelet-serving-ca.crt");
        using var servingCa = X509Certificate2.CreateFromPem(servingCaPem);
        Assert.That(servingCa.Thumbprint, Is.Not.EqualTo(clusterCa.Thumbprint), "a CA of its own, not the cluster CA the CSR API signs with");

        var everyCert = new List<string>();
        foreach (var node in kubeletNodes)
        {
            var stdin = mocks.Named($"kubelet-serving-{node}").Input("create");
            var certs = PemBlocks(stdin, "CERTIFICATE");
            Assert.That(certs, Has.Count.EqualTo(2), $"{node}: the CA's certificate and its own");
            Assert.That(certs[0].Trim(), Is.EqualTo(servingCaPem.Trim()), $"{node} checks its certificate against the CA the API servers trust");
            using var cert = X509Certificate2.CreateFromPem(certs[1], PemBlocks(stdin, "RSA PRIVATE KEY").Concat(PemBlocks(stdin, "PRIVATE KEY")).Single());
            everyCert.Add(certs[1]);

            // What kubernetes.io/kubelet-serving would issue (O system:nodes, CN system:node:<name>),
            // for this node's name and VPC address alone.
            Assert.That(cert.SubjectName.EnumerateRelativeDistinguishedNames().Select(n => $"{n.GetSingleElementType().FriendlyName}={n.GetSingleElementValue()}"),
                Is.EquivalentTo(new[] { "O=system:nodes", $"CN=system:node:{node}" }), node);
            var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.That(san.EnumerateDnsNames(), Is.EqualTo(new[] { node }), $"{node}: its own name only");
            Assert.That(san.EnumerateIPAddresses().Select(a => a.ToString()), Is.EqualTo(new[] { ClusterMocks.PrivateIp(node, ProdVpc) }), $"{node}: its own address only");
            var usages = cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value);
            Assert.That(usages, Is.EqualTo(new[] { "1.3.6.1.5.5.7.3.1" }), $"{node}: serving only");
            Assert.That(SignedBy(cert, servingCa), Is.True, $"{node}: signed by the kubelet-serving CA");
            Assert.That(SignedBy(cert, clusterCa), Is.False, $"{node}: not the cluster CA's");
            Assert.That(cert.HasPrivateKey, Is.True, $"{node}: its key matches");
        }
        // Each node's step carries its own certificate and key and no other node's.
        foreach (var node in kubeletNodes)
        {
            var stdin = mocks.Named($"kubelet-serving-{node}").Input("create");
            Assert.That(everyCert.Count(stdin.Contains), Is.EqualTo(1), $"{node} gets its own certificate alone");
        }

        // Every API server trusts that CA alone for kubelets: at init and on a live cluster.
        Assert.That(Render.ManagedApiServerFlags(AuditLogSettings.Default), Does.Contain(("kubelet-certificate-authority", Render.KubeletServingCaFile)));
        foreach (var step in mocks.OfType("command:remote:Command").Where(c => c.Name.StartsWith("apiserver-endpoints-", StringComparison.Ordinal)))
        {
            Assert.That(step.Input("create"), Does.Contain($"kubelet-certificate-authority={Render.KubeletServingCaFile}"), step.Name);
            // A cluster made earlier trusted the cluster CA: every kubelet serves the new certificate first.
            Assert.That(step.RegisteredAt, Is.GreaterThan(servingSteps.Max(s => mocks.Named(s).CompletedAt)), $"{step.Name} waits for every kubelet");
        }

        // metrics-server dials the kubelets too, and trusts what the API servers trust.
        var releases = mocks.OfType("kubernetes:helm.sh/v3:Release").ToDictionary(r => r.Inputs["name"].ToString()!);
        var metrics = (IDictionary<string, object>)releases["metrics-server"].Inputs["values"];
        var metricsArgs = ((IEnumerable)metrics["args"]).Cast<object>().Select(a => a.ToString()).ToList();
        Assert.That(metricsArgs, Does.Not.Contain("--kubelet-insecure-tls"));
        Assert.That(metricsArgs, Does.Contain($"--kubelet-certificate-authority={ClusterAddons.MetricsServerKubeletCaDir}/ca.crt"));
        var volume = ((IEnumerable)metrics["extraVolumes"]).Cast<IDictionary<string, object>>().Single();
        var mount = ((IEnumerable)metrics["extraVolumeMounts"]).Cast<IDictionary<string, object>>().Single();
        Assert.That(mount["name"], Is.EqualTo(volume["name"]));
        Assert.That(mount["mountPath"], Is.EqualTo(ClusterAddons.MetricsServerKubeletCaDir));
        Assert.That(((IDictionary<string, object>)volume["configMap"])["name"], Is.EqualTo(ClusterAddons.KubeletServingCaConfigMap));
        var configMap = mocks.Named("addons-kubelet-serving-ca");
        Assert.That(((IDictionary<string, object>)configMap.Inputs["data"])["ca.crt"].ToString()!.Trim(), Is.EqualTo(servingCaPem.Trim()));

        // The health gate warns of its node's serving certificate close to expiry, as of the others.
        Assert.That(mocks.Named("health-check").Input("create"), Does.Contain($"CERT_DIRS=('/etc/kubernetes/pki' '/etc/etcd/pki' '{Render.KubeletServingDir}')"));

        // And nothing approves kubelet serving requests any more.
        Assert.That(mocks.Resources.Select(r => r.Name), Has.None.Contains("approver"));
    }

    // secretbox takes exactly 32 bytes (k8s.io/apiserver storage/value/encrypt/secretbox): a
    // shorter, longer or undecodable key, or none, would stop every API server at start.
    [TestCase(0, "")]
    [TestCase(31, "")]
    [TestCase(33, "")]
    [TestCase(32, "not base64!")]
    public void TheApiServerConfigRefusesKeysSecretboxCannotTake(int bytes, string text)
    {
        var keys = bytes == 0 && text.Length == 0 ? [] : new[] { new SecretsEncryptionKey("key1", text.Length > 0 ? text : Convert.ToBase64String(new byte[bytes])) };
        var error = Assert.Throws<ArgumentException>(() => Render.ApiServerConfig(Fixtures.Hardening, keys))!;
        Assert.That(error.Message, Is.EqualTo(keys.Length == 0
            ? "Secrets need at least one encryption key (Parameter 'keys')"
            : "encryption key key1 is not 32 bytes in base64 (Parameter 'keys')"));
    }
}
