namespace DoK8sHa.Config;

/// <summary>
/// Defaults of every config key. Pulumi.yaml declares the same values (a test keeps them equal):
/// the program needs its own copy because unit tests and `pulumi preview --stack` with an older
/// Pulumi.yaml do not merge project defaults.
/// </summary>
public static class ConfigDefaults
{
    /// <summary>
    /// The config keys' namespace: the project's name, by which Pulumi namespaces the keys a
    /// project declares and `pulumi config set` writes (pulumi pkg/workspace/project.go). A stack
    /// made with `pulumi new` of this template with --name my-cluster has my-cluster:region, not
    /// do-k8s-ha:region. The program sets it from the project it runs in (ClusterProgram).
    /// </summary>
    public static string Namespace { get; private set; } = "do-k8s-ha";

    /// <summary>Reads and names config keys in this project's namespace.</summary>
    public static void UseProject(string project) => Namespace = project;

    public const string Region = "lon1";
    public const string Size = "s-2vcpu-4gb";
    public const string Image = "ubuntu-24-04-x64";
    public const string KubernetesVersion = "1.37.1";

    // etcd release binaries are verified against this checksum on the node (Kubespray does the same).
    public const string EtcdVersion = "3.6.5";
    public const string EtcdSha256 = "66bad39ed920f6fc15fd74adcb8bfd38ba9a6412f8c7852d09eb11670e88cac3";

    // etcd snapshots on every etcd node (docs/backups.md): RKE2 and k3s take one every
    // 12 h and keep 5; every 6 h, 8 kept, is two days of them.
    public const int EtcdSnapshotEveryHours = 6;
    public const int EtcdSnapshotKeep = 8;

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

    // Hardening (docs/hardening.md): Pod Security, the audit log, Secrets encryption at rest.
    public const string PodSecurityEnforce = "baseline";
    public const string PodSecurityWarn = "restricted";
    public const string PodSecurityAudit = "restricted";

    /// <summary>The control plane's own, and Calico's: their pods need host networking and privileges.</summary>
    public static IReadOnlyList<string> PodSecurityExemptNamespaces => ["kube-system", "tigera-operator", "calico-system"];
    public const int AuditLogMaxAgeDays = 30;
    public const int AuditLogMaxBackups = 10;
    public const int AuditLogMaxSizeMb = 100;

    /// <summary>Names of the Secrets encryption keys, the first encrypting (docs/hardening.md, "Secrets encryption keys").</summary>
    public static IReadOnlyList<string> SecretsEncryptionKeys => ["key1"];

    /// <summary>The seed tutorial's inventory: stacked etcd on all three, two API servers, two workers.</summary>
    public const string NodesJson = """
        [
          {"name": "node1", "roles": ["control-plane", "etcd"]},
          {"name": "node2", "roles": ["control-plane", "etcd", "worker"]},
          {"name": "node3", "roles": ["etcd", "worker"]}
        ]
        """;

    /// <summary>
    /// Every key of the program, once: its name, its default (null: none, the user sets it or
    /// leaves it unset; a JsonNode: a structured default) and its description. Pulumi.yaml declares
    /// exactly these, with these defaults and descriptions, and the README's configuration table
    /// lists them with these defaults (ProjectFileTests, ReadmeConfigTableTests); the parser reads
    /// its defaults from the same constants. Lists here are properties, not static readonly
    /// fields: Stryker cannot tell which tests run a static initializer and runs them all for
    /// each of its mutants (docs/testing.md, "Mutation testing").
    /// </summary>
    public static IReadOnlyList<ConfigKey> Keys =>
    [
        new("nodes", System.Text.Json.Nodes.JsonNode.Parse(NodesJson),
            "The inventory, a list of {name, roles, size?} (roles control-plane, etcd, worker); the default is the seed tutorial's three nodes."),
        new("region", Region,
            "DigitalOcean region slug of every resource."),
        new("size", Size,
            "Droplet size slug of nodes that name no size of their own."),
        new("image", Image,
            "Droplet image slug (an Ubuntu LTS release)."),
        new("kubernetesVersion", KubernetesVersion,
            "Kubernetes release (MAJOR.MINOR.PATCH) of kubeadm, kubelet and kubectl, one of the checksum table's (infra/Config/releases.json), the three newest minors."),
        new("releaseChecksums", System.Text.Json.Nodes.JsonNode.Parse("{}"),
            "sha256 of a node's downloads by file (kubeadm, kubelet, kubectl, containerd, runc, crictl, cni), for a kubernetesVersion the checksum table lacks or a mirror's own builds; empty: the table's."),
        new("etcdVersion", EtcdVersion,
            "etcd release run on the etcd nodes."),
        new("etcdSha256", EtcdSha256,
            "sha256 of etcd-v<etcdVersion>-linux-amd64.tar.gz; required when etcdVersion changes."),
        new("sshPublicKey", null,
            "OpenSSH public key installed on every droplet (one line, ssh-ed25519 AAAA...)."),
        new("sshPrivateKey", null,
            "The matching private key, with which the program runs its remote steps. Set it with --secret.", Secret: true),
        new(LegacyPki.Key, null,
            "Only for a stack made by a release that generated its CAs with openssl on the operator's machine (the pki-generate step). Its stdout, so the CAs and the service-account key are kept (docs/certificates.md \"Upgrading from an openssl PKI\"). Set it with --secret.", Secret: true, Undeclared: true),
        new("sshUser", SshUser,
            "User the remote steps log in as."),
        new("sshKeyFingerprint", "",
            "MD5 fingerprint of an SSH key already in the DigitalOcean account, used instead of uploading sshPublicKey (which DigitalOcean refuses for a key it already has)."),
        new("vpcId", "",
            "An existing VPC to use (its range must be vpcCidr); empty creates one."),
        new("adminCidrs", null,
            "Networks allowed to reach SSH (22) and the API server (6443), a list ([\"203.0.113.7/32\"]) or comma-separated (203.0.113.7/32,198.51.100.0/24). Required; an explicit 0.0.0.0/0 is accepted with a warning.", Untyped: true),
        new("vpcCidr", VpcCidr,
            "The VPC's private range (RFC 1918, /16 to /24, unused in the account)."),
        new("podCidr", PodCidr,
            "Pod network of the cluster (Calico)."),
        new("serviceCidr", ServiceCidr,
            "Service network of the cluster."),
        new("nodeCidrMaskSize", NodeCidrMaskSize,
            "Prefix length of the pod range each node gets from podCidr; podCidr must hold one per Kubernetes node."),
        new("apiLoadBalancer", ApiLoadBalancer,
            "digitalocean: a load balancer in front of the API servers (highly available); none: the kubeconfig points at the first control-plane node."),
        new("calicoVersion", CalicoVersion,
            "Calico (tigera-operator Helm chart) version; the pod network, VXLAN between nodes."),
        new("metricsServerVersion", MetricsServerVersion,
            "metrics-server Helm chart version."),
        new("dashboard", false,
            "Install the Kubernetes dashboard."),
        new("dashboardVersion", DashboardVersion,
            "kubernetes-dashboard Helm chart version."),
        new("nodeLocalDns", NodeLocalDns,
            "Install NodeLocal DNSCache (a DNS cache on every node at 169.254.20.10), as Kubespray does by default."),
        new("nodeLocalDnsVersion", NodeLocalDnsVersion,
            "NodeLocal DNSCache (k8s-dns-node-cache image) version."),
        new("dnsAutoscaler", DnsAutoscaler,
            "Scale CoreDNS's replicas with the cluster (cluster-proportional-autoscaler, Kubespray's dns-autoscaler)."),
        new("dnsAutoscalerVersion", DnsAutoscalerVersion,
            "cluster-proportional-autoscaler release (image registry.k8s.io/cpa/cluster-proportional-autoscaler:v<version>)."),
        new("podSecurityEnforce", PodSecurityEnforce,
            "Pod Security level enforced in every namespace without a label of its own: privileged, baseline or restricted."),
        new("podSecurityWarn", PodSecurityWarn,
            "Pod Security level whose violations are returned to the client as warnings."),
        new("podSecurityAudit", PodSecurityAudit,
            "Pod Security level whose violations are recorded in the audit log."),
        new("podSecurityExemptNamespaces", PodSecurityExemptNamespaces,
            "Namespaces Pod Security never checks (the control plane's and Calico's, whose pods use the host network)."),
        new("auditLogMaxAgeDays", AuditLogMaxAgeDays,
            "Days an API server keeps rotated audit log files."),
        new("auditLogMaxBackups", AuditLogMaxBackups,
            "Rotated audit log files an API server keeps."),
        new("auditLogMaxSizeMb", AuditLogMaxSizeMb,
            "Size in megabytes at which an API server rotates its audit log."),
        new("etcdSnapshotEveryHours", EtcdSnapshotEveryHours,
            "Hours between the snapshots each etcd node takes of its member (a systemd timer)."),
        new("etcdSnapshotKeep", EtcdSnapshotKeep,
            "Snapshots each etcd node keeps of each kind (scheduled, before a change); older ones are deleted."),
        new("etcdSnapshotBucket", "",
            "A Spaces bucket the program makes, in the stack's region, that every snapshot is uploaded to (needs Spaces keys for the provider, docs/backups.md); empty: snapshots stay on the nodes."),
        new("etcdRestoreFrom", "",
            "A snapshot new etcd members start from instead of empty: an absolute path on every etcd node, or spaces:<object> in etcdSnapshotBucket. Runbooks in docs/backups.md."),
        new("lostNodes", Array.Empty<string>(),
            "Nodes whose droplets are dead or gone: a rolling upgrade passes them by, the health gate does not wait for them, and a departure no live node can run runs nothing (docs/backups.md). Remove it once they are back."),
        new("secretsEncryptionKeys", SecretsEncryptionKeys,
            "Names of the keys Secrets are encrypted with in etcd; the first encrypts, all decrypt. The program makes each key (a secret in the state). Rotation in docs/hardening.md, \"Secrets encryption keys\"."),
    ];

    /// <summary>Each key's default, by name (the README's configuration table lists them all).</summary>
    public static IReadOnlyDictionary<string, object?> Defaults => Keys.ToDictionary(k => k.Name, k => k.Default);

    /// <summary>The keys Pulumi.yaml declares, with their defaults: all but the optional secrets.</summary>
    public static IReadOnlyDictionary<string, object?> Declared => Keys.Where(k => !k.Undeclared).ToDictionary(k => k.Name, k => k.Default);

    /// <summary>
    /// Keys Pulumi.yaml declares without a type: the CLI checks a typed key's stack value against
    /// its type (pulumi pkg/workspace/config.go, validateStackConfigValues), and `pulumi new`
    /// answers prompts with strings; these take a list or a comma-separated string.
    /// </summary>
    public static IReadOnlySet<string> Untyped => Keys.Where(k => k.Untyped).Select(k => k.Name).ToHashSet();
}

/// <summary>One config key: what Pulumi.yaml declares of it.</summary>
/// <param name="Secret">Pulumi.yaml declares it secret: the CLI refuses it unencrypted.</param>
/// <param name="Untyped">Pulumi.yaml gives it no type (<see cref="ConfigDefaults.Untyped"/>).</param>
/// <param name="Undeclared">
/// An optional secret, which Pulumi.yaml must not declare: the CLI stops every command on a stack
/// that leaves a declared key without a default unset ("Stack 'dev' is missing configuration
/// value …"), and refuses a plain default beside `secret: true` ("must be encrypted as it's
/// secret"; pulumi pkg/workspace/config.go, mergeConfig and validateStackConfigValue). A key the
/// stack sets without a declaration reaches the program all the same.
/// </param>
public sealed record ConfigKey(string Name, object? Default, string Description, bool Secret = false, bool Untyped = false, bool Undeclared = false);
