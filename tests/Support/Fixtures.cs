using DoK8sHa.Config;
using DoK8sHa.Scripts;

namespace DoK8sHa.Tests.Support;

/// <summary>Fixed inputs for rendering: the seed topology on fixed VPC addresses, with placeholder PEMs.</summary>
public static class Fixtures
{
    public static readonly NodeAddress Node1 = new("node1", "10.240.0.2");
    public static readonly NodeAddress Node2 = new("node2", "10.240.0.3");
    public static readonly NodeAddress Node3 = new("node3", "10.240.0.4");
    public static readonly IReadOnlyList<NodeAddress> EtcdMembers = [Node1, Node2, Node3];
    public static readonly IReadOnlyList<NodeAddress> ControlPlane = [Node1, Node2];

    public const string EtcdSha256 = "66bad39ed920f6fc15fd74adcb8bfd38ba9a6412f8c7852d09eb11670e88cac3";

    /// <summary>
    /// The minor after the default's, which the checksum table does not hold yet: a stack moves to
    /// it with the three binaries' checksums (placeholders here: the mocks download nothing).
    /// </summary>
    public const string NextMinor = "1.38.0";

    /// <summary>Sets kubernetesVersion to <see cref="NextMinor"/>, with its releaseChecksums.</summary>
    public static void UpgradeToNextMinor(Dictionary<string, string> config, string ns = "do-k8s-ha")
    {
        config[$"{ns}:kubernetesVersion"] = NextMinor;
        config[$"{ns}:releaseChecksums"] = $$"""{"kubeadm":"{{new string('a', 64)}}","kubelet":"{{new string('b', 64)}}","kubectl":"{{new string('c', 64)}}"}""";
    }

    public static KubernetesVersion K8sVersion => Parse<KubernetesVersion>(KubernetesVersion.TryParse, "1.35.1");

    public static KubeadmClusterInput Cluster => new(
        "k8s-dev",
        K8sVersion,
        Parse<Cidr>(Cidr.TryParse, "10.233.64.0/18"),
        Parse<Cidr>(Cidr.TryParse, "10.233.0.0/18"),
        Render.EtcdClientUrls(EtcdMembers).ToList(),
        ["127.0.0.1", "localhost", "198.51.100.10"]);

    /// <summary>The hardening defaults, as the config parser gives them.</summary>
    public static HardeningSettings Hardening => new(
        new PodSecuritySettings(ConfigDefaults.PodSecurityEnforce, ConfigDefaults.PodSecurityWarn, ConfigDefaults.PodSecurityAudit, ConfigDefaults.PodSecurityExemptNamespaces),
        AuditLogSettings.Default,
        ConfigDefaults.SecretsEncryptionKeys);

    /// <summary>Two placeholder keys (32 bytes each, base64), the first encrypting.</summary>
    public static IReadOnlyList<SecretsEncryptionKey> EncryptionKeys =>
    [
        new("key2", Convert.ToBase64String(Enumerable.Repeat((byte)2, 32).ToArray())),
        new("key1", Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray())),
    ];

    /// <summary>Placeholder key material: goldens must not change with every run, and hold no real key.</summary>
    public static ClusterPkiMaterial FakePki => new()
    {
        CaCert = Pem("CERTIFICATE", "kubernetes-ca"),
        CaKey = Pem("PRIVATE KEY", "kubernetes-ca-key"),
        FrontProxyCaCert = Pem("CERTIFICATE", "front-proxy-ca"),
        FrontProxyCaKey = Pem("PRIVATE KEY", "front-proxy-ca-key"),
        EtcdCaCert = Pem("CERTIFICATE", "etcd-ca"),
        EtcdCaKey = Pem("PRIVATE KEY", "etcd-ca-key"),
        ApiServerEtcdClientCert = Pem("CERTIFICATE", "apiserver-etcd-client"),
        ApiServerEtcdClientKey = Pem("PRIVATE KEY", "apiserver-etcd-client-key"),
        AdminCert = Pem("CERTIFICATE", "admin"),
        AdminKey = Pem("PRIVATE KEY", "admin-key"),
        OperatorCert = Pem("CERTIFICATE", "operator"),
        OperatorKey = Pem("PRIVATE KEY", "operator-key"),
        ServiceAccountKey = Pem("PRIVATE KEY", "service-account-key"),
        ServiceAccountPublicKey = Pem("PUBLIC KEY", "service-account-public-key"),
        KubeletServingCaCert = Pem("CERTIFICATE", "kubelet-serving-ca"),
        CaCertHash = "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    };

    /// <summary>A placeholder join token, [a-z0-9]{6}.[a-z0-9]{16}.</summary>
    public const string JoinToken = "abcdef.0123456789abcdef";

    /// <summary>Placeholder member credential for etcd-certs.sh's golden.</summary>
    public static EtcdMemberCredential FakeMember => new(Pem("CERTIFICATE", "etcd-member"), Pem("RSA PRIVATE KEY", "etcd-member-key"));

    /// <summary>Placeholder kubelet serving credential for kubelet-serving.sh's golden.</summary>
    public static KubeletServingCredential FakeKubeletServing => new(Pem("CERTIFICATE", "kubelet-serving-ca"), Pem("CERTIFICATE", "kubelet-serving"), Pem("RSA PRIVATE KEY", "kubelet-serving-key"));

    public static string Pem(string kind, string what) => $"-----BEGIN {kind}-----\nPLACEHOLDER-{what}\n-----END {kind}-----";

    private delegate bool TryParser<T>(string text, out T value);

    private static T Parse<T>(TryParser<T> parse, string text) =>
        parse(text, out var value) ? value : throw new ArgumentException(text);
}
