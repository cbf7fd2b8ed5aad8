namespace DoK8sHa.Config;

/// <summary>
/// Defaults of every config key. Pulumi.yaml declares the same values (a test keeps them equal):
/// the program needs its own copy because unit tests and `pulumi preview --stack` with an older
/// Pulumi.yaml do not merge project defaults.
/// </summary>
public static class ConfigDefaults
{
    public const string Namespace = "do-k8s-ha";

    public const string Region = "lon1";
    public const string Size = "s-2vcpu-4gb";
    public const string Image = "ubuntu-24-04-x64";
    public const string KubernetesVersion = "1.35.1";

    // etcd release binaries are verified against this checksum on the node (Kubespray does the same).
    public const string EtcdVersion = "3.6.5";
    public const string EtcdSha256 = "66bad39ed920f6fc15fd74adcb8bfd38ba9a6412f8c7852d09eb11670e88cac3";

    public const string VpcCidr = "10.240.0.0/20";

    // Kubespray's defaults: clear of DigitalOcean's default VPC ranges.
    public const string PodCidr = "10.233.64.0/18";
    public const string ServiceCidr = "10.233.0.0/18";

    // kube-controller-manager's default: a /24 of podCidr per node (with a /18, 64 nodes).
    public const int NodeCidrMaskSize = 24;

    public const string SshUser = "root";
    public const string ApiLoadBalancer = "digitalocean";

    // Add-ons, each pinned: a Helm chart version or, for NodeLocal DNSCache, the node-cache image tag.
    public const string CalicoVersion = "v3.30.6";
    public const string MetricsServerVersion = "3.13.0";
    public const string DashboardVersion = "7.13.0";
    public const string NodeLocalDnsVersion = "1.25.0";

    // Both on, as Kubespray has them (enable_nodelocaldns, enable_dns_autoscaler): a DNS cache on
    // every node, and CoreDNS replicas that grow with the cluster (cluster-proportional-autoscaler,
    // image registry.k8s.io/cpa/cluster-proportional-autoscaler:v<version>).
    public const bool NodeLocalDns = true;
    public const bool DnsAutoscaler = true;
    public const string DnsAutoscalerVersion = "1.10.3";

    // kubelet serving certificates are approved by postfinance/kubelet-csr-approver, as Kubespray
    // does: the release of its image, ghcr.io/postfinance/kubelet-csr-approver:v<version>.
    public const string KubeletCsrApproverVersion = "1.2.14";

    // Hardening (README "Hardening"): Pod Security, the audit log, Secrets encryption at rest.
    public const string PodSecurityEnforce = "baseline";
    public const string PodSecurityWarn = "restricted";
    public const string PodSecurityAudit = "restricted";

    /// <summary>The control plane's own, and Calico's: their pods need host networking and privileges.</summary>
    public static readonly IReadOnlyList<string> PodSecurityExemptNamespaces = ["kube-system", "tigera-operator", "calico-system"];
    public const int AuditLogMaxAgeDays = 30;
    public const int AuditLogMaxBackups = 10;
    public const int AuditLogMaxSizeMb = 100;

    /// <summary>Names of the Secrets encryption keys, the first encrypting (README "Secrets encryption keys").</summary>
    public static readonly IReadOnlyList<string> SecretsEncryptionKeys = ["key1"];

    /// <summary>The seed tutorial's inventory: stacked etcd on all three, two API servers, two workers.</summary>
    public const string NodesJson = """
        [
          {"name": "node1", "roles": ["control-plane", "etcd"]},
          {"name": "node2", "roles": ["control-plane", "etcd", "worker"]},
          {"name": "node3", "roles": ["etcd", "worker"]}
        ]
        """;

    /// <summary>
    /// Every key Pulumi.yaml declares, with its default (null: no default, the user sets it; a
    /// JsonNode: a structured default).
    /// </summary>
    /// <summary>
    /// Keys Pulumi.yaml declares without a type: the CLI checks a typed key's stack value against
    /// its type (pulumi pkg/workspace/config.go, validateStackConfigValues), and `pulumi new`
    /// answers prompts with strings; these take a list or a comma-separated string.
    /// </summary>
    public static readonly IReadOnlySet<string> Untyped = new HashSet<string> { "adminCidrs" };

    public static readonly IReadOnlyDictionary<string, object?> Declared = new Dictionary<string, object?>
    {
        ["nodes"] = System.Text.Json.Nodes.JsonNode.Parse(NodesJson),
        ["region"] = Region,
        ["size"] = Size,
        ["image"] = Image,
        ["kubernetesVersion"] = KubernetesVersion,
        ["etcdVersion"] = EtcdVersion,
        ["etcdSha256"] = EtcdSha256,
        ["sshPublicKey"] = null,
        ["sshPrivateKey"] = null,
        [LegacyPki.Key] = null,
        ["sshUser"] = SshUser,
        ["sshKeyFingerprint"] = "",
        ["vpcId"] = "",
        ["adminCidrs"] = null,
        ["vpcCidr"] = VpcCidr,
        ["podCidr"] = PodCidr,
        ["serviceCidr"] = ServiceCidr,
        ["nodeCidrMaskSize"] = NodeCidrMaskSize,
        ["apiLoadBalancer"] = ApiLoadBalancer,
        ["calicoVersion"] = CalicoVersion,
        ["metricsServerVersion"] = MetricsServerVersion,
        ["dashboard"] = false,
        ["dashboardVersion"] = DashboardVersion,
        ["nodeLocalDns"] = NodeLocalDns,
        ["nodeLocalDnsVersion"] = NodeLocalDnsVersion,
        ["dnsAutoscaler"] = DnsAutoscaler,
        ["dnsAutoscalerVersion"] = DnsAutoscalerVersion,
        ["kubeletCsrApproverVersion"] = KubeletCsrApproverVersion,
        ["podSecurityEnforce"] = PodSecurityEnforce,
        ["podSecurityWarn"] = PodSecurityWarn,
        ["podSecurityAudit"] = PodSecurityAudit,
        ["podSecurityExemptNamespaces"] = PodSecurityExemptNamespaces,
        ["auditLogMaxAgeDays"] = AuditLogMaxAgeDays,
        ["auditLogMaxBackups"] = AuditLogMaxBackups,
        ["auditLogMaxSizeMb"] = AuditLogMaxSizeMb,
        ["secretsEncryptionKeys"] = SecretsEncryptionKeys,
    };
}
