using System.Collections;
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
/// certificates and who approves them.
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
        Assert.That(args, Does.ContainKey("kubelet-certificate-authority").WithValue("/etc/kubernetes/pki/ca.crt"));
        Assert.That(args, Does.ContainKey("profiling").WithValue("false"));
        // An AuthenticationConfiguration file and --anonymous-auth exclude each other.
        Assert.That(args, Does.Not.ContainKey("anonymous-auth"));
        Assert.That(Args((YamlMappingNode)cluster["controllerManager"]), Does.ContainKey("profiling").WithValue("false"));
        Assert.That(Args((YamlMappingNode)cluster["scheduler"]), Does.ContainKey("profiling").WithValue("false"));

        var volumes = ((YamlSequenceNode)apiServer["extraVolumes"]).Cast<YamlMappingNode>().ToDictionary(v => v["hostPath"].ToString(), v => v["readOnly"].ToString());
        Assert.That(volumes, Does.ContainKey(Render.HardeningDir).WithValue("true"));
        Assert.That(volumes, Does.ContainKey("/var/log/kubernetes/audit").WithValue("false"));

        Assert.That(Kind(docs, "KubeletConfiguration")["serverTLSBootstrap"].ToString(), Is.EqualTo("true"));
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

    [Test]
    public async Task OnlyInventoryKubeletsGetServingCertificatesForTheirOwnAddressesAndMetricsServerVerifiesThem()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        var approver = mocks.Named("addons-kubelet-csr-approver");
        var docs = new YamlStream();
        docs.Load(new StringReader(approver.Input("yaml")));
        var deployment = docs.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(d => d["kind"].ToString() == "Deployment");
        var pod = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["spec"];
        var container = (YamlMappingNode)((YamlSequenceNode)pod["containers"]).Single();
        var env = ((YamlSequenceNode)container["env"]).Cast<YamlMappingNode>().ToDictionary(e => e["name"].ToString(), e => e["value"].ToString());

        // Kubernetes nodes only (etcd-only nodes run no kubelet), each name to its own address.
        var kubeletNodes = mocks.OfType("digitalocean:index/droplet:Droplet").Select(d => d.Input("name")).Where(n => !n.StartsWith("etcd", StringComparison.Ordinal)).ToList();
        var aliases = ((YamlSequenceNode)pod["hostAliases"]).Cast<YamlMappingNode>()
            .ToDictionary(a => ((YamlSequenceNode)a["hostnames"]).Single().ToString(), a => a["ip"].ToString());
        Assert.That(aliases.Keys, Is.EquivalentTo(kubeletNodes));
        foreach (var node in kubeletNodes)
        {
            Assert.That(aliases[node], Is.EqualTo(ClusterMocks.PrivateIp(node, ProdVpc)), node);
        }
        // DNS resolution is what ties an address to its node: it must not be bypassed.
        Assert.That(env, Does.Not.ContainKey("BYPASS_DNS_RESOLUTION"));
        // v1.2.14 denies a CSR that fails a check unless SKIP_DENY_STEP (csr_controller.go,
        // appendCondition; cmd.go reads the flag from the environment): a denied CSR is never
        // approved later, where a pending one is once the approver knows the node's address.
        Assert.That(env["SKIP_DENY_STEP"], Is.EqualTo("true"));
        var regex = new Regex(env["PROVIDER_REGEX"]);
        Assert.That(kubeletNodes.Where(n => !regex.IsMatch(n)), Is.Empty);
        Assert.That(new[] { "etcd1", "cp1x", "xcp1", "worker10" }.Where(n => regex.IsMatch(n)), Is.Empty, "no name outside the inventory's Kubernetes nodes");
        Assert.That(env["PROVIDER_IP_PREFIXES"].Split(','), Is.EquivalentTo(kubeletNodes.Select(n => $"{ClusterMocks.PrivateIp(n, ProdVpc)}/32")));
        Assert.That(container["image"].ToString(), Is.EqualTo($"ghcr.io/postfinance/kubelet-csr-approver:v{ConfigDefaults.KubeletCsrApproverVersion}"));

        var releases = mocks.OfType("kubernetes:helm.sh/v3:Release").ToDictionary(r => r.Inputs["name"].ToString()!);
        var metrics = (IDictionary<string, object>)releases["metrics-server"].Inputs["values"];
        var metricsArgs = ((IEnumerable)metrics["args"]).Cast<object>().Select(a => a.ToString()).ToList();
        Assert.That(metricsArgs, Does.Not.Contain("--kubelet-insecure-tls"));
        Assert.That(metricsArgs, Does.Contain("--kubelet-certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"));
        // Both need the pod network; metrics-server's readiness waits for approved kubelet certificates by itself.
        Assert.That(releases["metrics-server"].RegisteredAt, Is.GreaterThan(releases["calico"].CompletedAt));
        Assert.That(approver.RegisteredAt, Is.GreaterThan(releases["calico"].CompletedAt));
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

    [Test]
    public void TheApprovalsImageTakesTheVersionWithOrWithoutItsV()
    {
        var nodes = new[] { new NodeAddress("cp1", "10.240.0.2") };
        Assert.That(Render.KubeletCsrApprover("v1.2.10", nodes), Does.Contain("kubelet-csr-approver:v1.2.10\n"));
        Assert.That(Render.KubeletCsrApprover("1.2.10", nodes), Does.Contain("kubelet-csr-approver:v1.2.10\n"));
        Assert.That(Assert.Throws<ArgumentException>(() => Render.KubeletCsrApprover("1.2.10", []))!.Message,
            Is.EqualTo("no Kubernetes node to approve certificates for (Parameter 'kubeletNodes')"));
    }
}
