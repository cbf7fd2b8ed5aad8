using System.Text;
using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>A node as the rendered scripts see it: its inventory name and its VPC address.</summary>
public sealed record NodeAddress(string Name, string PrivateIp);

/// <summary>What every kubeadm config of the cluster shares.</summary>
public sealed record KubeadmClusterInput(
    string ClusterName,
    KubernetesVersion Version,
    Cidr PodCidr,
    Cidr ServiceCidr,
    IReadOnlyList<string> EtcdEndpoints,
    IReadOnlyList<string> CertSans,
    int NodeCidrMaskSize = 24,
    AuditLogSettings? AuditLog = null);

/// <summary>A key Secrets are encrypted with in etcd: its name and 32 random bytes, base64.</summary>
public sealed record SecretsEncryptionKey(string Name, string Secret);

/// <summary>
/// Renders every script and config file the program puts on a machine: the single place they
/// come from. Each method is a pure function of its inputs, so golden files pin them.
/// </summary>
public static class Render
{
    public const string EtcdPkiDir = "/etc/etcd/pki";
    public const string EtcdDataDir = "/var/lib/etcd";
    public const string BootstrapMarker = "/var/lib/do-k8s-ha/bootstrapped";
    public const string StepsDir = "/var/lib/do-k8s-ha/steps";
    public const int ApiServerPort = 6443;

    /// <summary>
    /// The local API proxy on every Kubernetes node, and the cluster's controlPlaneEndpoint. Not
    /// 6443: the API servers listen there on every address of a control-plane node.
    /// </summary>
    public const int ApiProxyPort = 6444;
    public const string ApiProxyListen = "127.0.0.1:6444";

    private const string KubePki = "/etc/kubernetes/pki";

    /// <summary>What user data runs at first boot: the same for every node, role and version (see the template).</summary>
    public static string NodeBootstrap() => Template.Render("node-bootstrap.sh", new Dictionary<string, string>());

    public const string BootstrapPath = "/usr/local/sbin/do-k8s-ha-bootstrap";

    /// <summary>
    /// A droplet's cloud-init user data: <see cref="NodeBootstrap"/> and the node's own SSH host
    /// key (OpenSSH private key, and its public key as an authorized_keys line).
    /// </summary>
    public static string NodeUserData(string hostKeyPrivate, string hostKeyPublic)
    {
        if (!hostKeyPrivate.StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new ArgumentException("the host key must be an OpenSSH private key", nameof(hostKeyPrivate));
        }
        // cloud-init names host keys by kind (cc_ssh CONFIG_KEY_TO_FILE): <kind>_private, <kind>_public.
        var kind = hostKeyPublic.Split(' ')[0] switch
        {
            "ssh-ed25519" => "ed25519",
            "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521" => "ecdsa",
            "ssh-rsa" => "rsa",
            var other => throw new ArgumentException($"cloud-init installs no host key of kind '{other}'", nameof(hostKeyPublic)),
        };
        return Template.Render("node-user-data.yaml", new Dictionary<string, string>
        {
            ["KEY_KIND"] = kind,
            ["HOST_KEY_PRIVATE"] = Indent(hostKeyPrivate, 4),
            ["HOST_KEY_PUBLIC"] = hostKeyPublic.Trim(),
            ["BOOTSTRAP_PATH"] = BootstrapPath,
            ["BOOTSTRAP_SCRIPT"] = Indent(NodeBootstrap(), 6),
        });
    }

    /// <summary>Text as a YAML block scalar's body: every line indented, blank lines left blank.</summary>
    private static string Indent(string text, int spaces) =>
        string.Join("\n", text.TrimEnd('\n').Split('\n').Select(line => line.Length == 0 ? "" : new string(' ', spaces) + line));

    /// <summary>kubeadm, kubelet and kubectl of the version on a node that has not joined yet.</summary>
    public static string KubernetesPackages(KubernetesVersion version) =>
        Template.Render("kubernetes-packages.sh", new Dictionary<string, string>
        {
            ["KUBERNETES_VERSION"] = Sh.Quote(version.ToString()),
            ["KUBERNETES_MINOR"] = Sh.Quote(version.RepositoryMinor),
            ["SANDBOX_IMAGE"] = SandboxImageFunction(),
            ["KUBERNETES_REPOSITORY"] = Fragment("kubernetes-repository.fragment"),
        });

    /// <summary>A fragment of shell functions that several scripts share, as it is.</summary>
    private static string Fragment(string name) => Template.Render(name, new Dictionary<string, string>()).TrimEnd('\n');

    private static string SandboxImageFunction() =>
        Template.Render("containerd-sandbox.fragment", new Dictionary<string, string>()).TrimEnd('\n');

    public static string WaitForBootstrap(string marker = BootstrapMarker) =>
        Template.Render("wait-for-bootstrap.sh", new Dictionary<string, string> { ["MARKER"] = Sh.Quote(marker) });

    /// <summary>Installs the etcd CA certificate and the member's own credential, issued by the program.</summary>
    public static string EtcdCerts(NodeAddress node, string etcdCaCert, EtcdMemberCredential member, string pkiDir = EtcdPkiDir) =>
        Template.Render("etcd-certs.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["PKI_DIR"] = Sh.Quote(pkiDir),
            ["ETCD_CA_CERT"] = Pem(etcdCaCert),
            ["MEMBER_CERT"] = Pem(member.Cert),
            ["MEMBER_KEY"] = Pem(member.Key),
            ["ETCD_USER"] = Fragment("etcd-user.fragment"),
        });

    /// <summary>etcd's own config file. initial-cluster lists every etcd node of the inventory.</summary>
    /// <param name="etcdVersion">
    /// The release that reads it. Only 3.6 and later read peer-transport-security.allowed-cn from a
    /// config file (server/embed/config.go, securityConfig.AllowedCNs, a list); up to 3.5 it is a
    /// command-line flag only, which etcd ignores when given a config file.
    /// </param>
    public static string EtcdConfig(NodeAddress node, IReadOnlyList<NodeAddress> members, string clusterToken, string pkiDir = EtcdPkiDir, string dataDir = EtcdDataDir,
        string etcdVersion = ConfigDefaults.EtcdVersion) =>
        Template.Render("etcd.conf.yml", new Dictionary<string, string>
        {
            ["PEER_ALLOWED_CN"] = EtcdReadsAllowedCns(etcdVersion)
                ? $"  # Peers are members: the API server's client certificate, from the same CA, is refused here.\n  allowed-cn: [{EtcdMemberCommonName}]"
                : $"  # etcd {etcdVersion} cannot restrict peers to member certificates from a config file (3.6 can).",
            ["NODE_NAME"] = node.Name,
            ["NODE_IP"] = node.PrivateIp,
            ["DATA_DIR"] = dataDir,
            ["PKI_DIR"] = pkiDir,
            ["INITIAL_CLUSTER"] = string.Join(",", members.Select(m => $"{m.Name}=https://{m.PrivateIp}:2380")),
            ["CLUSTER_TOKEN"] = clusterToken,
        });

    public const string EtcdConfigFile = "/etc/etcd/etcd.conf.yml";

    /// <summary>The common name of every etcd member's certificate, the only one peers accept.</summary>
    public const string EtcdMemberCommonName = "etcd-member";

    public static bool EtcdReadsAllowedCns(string etcdVersion)
    {
        var parts = etcdVersion.Split('.');
        return parts.Length >= 2 && int.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var major) && int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var minor)
            && (major > 3 || (major == 3 && minor >= 6));
    }

    public static string EtcdInstall(string etcdVersion, string etcdSha256) =>
        Template.Render("etcd-install.sh", new Dictionary<string, string>
        {
            ["ETCD_VERSION"] = Sh.Quote(etcdVersion),
            ["ETCD_SHA256"] = Sh.Quote(etcdSha256),
        });

    /// <summary>Writes the member's config, announcing it first if the running cluster lacks it.</summary>
    public static string EtcdMember(
        NodeAddress node,
        IReadOnlyList<NodeAddress> members,
        string clusterToken,
        string pkiDir = EtcdPkiDir,
        string dataDir = EtcdDataDir,
        string configFile = EtcdConfigFile,
        string etcdctl = "/usr/local/bin/etcdctl",
        string etcdVersion = ConfigDefaults.EtcdVersion) =>
        Template.Render("etcd-member.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", EtcdClientUrls(members))),
            ["PKI_DIR"] = Sh.Quote(pkiDir),
            ["DATA_DIR"] = Sh.Quote(dataDir),
            ["CONFIG"] = Sh.Quote(configFile),
            ["ETCDCTL"] = Sh.Quote(etcdctl),
            ["ETCD_CONFIG"] = EtcdConfig(node, members, clusterToken, pkiDir, dataDir, etcdVersion).TrimEnd('\n'),
            ["MEMBER_CHANGE"] = MemberChangeFunction(),
            ["ETCD_USER"] = Fragment("etcd-user.fragment"),
        });

    public static string EtcdService() =>
        Template.Render("etcd-service.sh", new Dictionary<string, string> { ["CONFIG"] = Sh.Quote(EtcdConfigFile), ["DATA_DIR"] = Sh.Quote(EtcdDataDir) });

    /// <param name="pkiDir">The client certificate of the member the removal runs on.</param>
    public static string EtcdMemberRemove(NodeAddress node, IReadOnlyList<NodeAddress> members, string pkiDir = EtcdPkiDir) =>
        Template.Render("etcd-member-remove.sh", new Dictionary<string, string>
        {
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", EtcdClientUrls(members))),
            ["PKI_DIR"] = Sh.Quote(pkiDir),
            ["MEMBER_CHANGE"] = MemberChangeFunction(),
        });

    /// <summary>The shell function both etcd scripts change the membership with, retrying while etcd refuses.</summary>
    private static string MemberChangeFunction() =>
        Template.Render("etcd-member-change.fragment", new Dictionary<string, string>()).TrimEnd('\n');

    /// <summary>The health check, run with the API server's own etcd client certificate by default.</summary>
    public static string EtcdHealth(
        IEnumerable<string> clientEndpoints,
        bool requireAll,
        int timeoutSeconds,
        string caFile = KubePki + "/etcd/ca.crt",
        string certFile = KubePki + "/apiserver-etcd-client.crt",
        string keyFile = KubePki + "/apiserver-etcd-client.key") =>
        Template.Render("etcd-health.sh", new Dictionary<string, string>
        {
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", clientEndpoints)),
            ["CA_FILE"] = Sh.Quote(caFile),
            ["CERT_FILE"] = Sh.Quote(certFile),
            ["KEY_FILE"] = Sh.Quote(keyFile),
            ["REQUIRE_ALL"] = Sh.Bool(requireAll),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    public static IEnumerable<string> EtcdClientUrls(IEnumerable<NodeAddress> members) =>
        members.Select(m => $"https://{m.PrivateIp}:2379");

    /// <summary>ClusterConfiguration + KubeletConfiguration + this node's InitConfiguration.</summary>
    public static string KubeadmInitConfig(KubeadmClusterInput cluster, NodeAddress node, bool schedulable) =>
        KubeadmInitConfig(cluster, node, schedulable, cluster.AuditLog ?? DefaultAuditLog);

    private static string KubeadmInitConfig(KubeadmClusterInput cluster, NodeAddress node, bool schedulable, AuditLogSettings audit) =>
        Template.Render("kubeadm-init.yaml", new Dictionary<string, string>
        {
            ["NODE_NAME"] = node.Name,
            ["NODE_IP"] = node.PrivateIp,
            ["TAINTS"] = Taints(schedulable),
        }) + "---\n" + Template.Render("kubeadm-cluster.yaml", new Dictionary<string, string>
        {
            ["CLUSTER_NAME"] = cluster.ClusterName,
            ["KUBERNETES_VERSION"] = cluster.Version.ToString(),
            ["CONTROL_PLANE_ENDPOINT"] = ApiProxyListen,
            ["NODE_CIDR_MASK_SIZE"] = cluster.NodeCidrMaskSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["POD_CIDR"] = cluster.PodCidr.ToString(),
            ["SERVICE_CIDR"] = cluster.ServiceCidr.ToString(),
            ["ETCD_ENDPOINTS"] = YamlList(cluster.EtcdEndpoints, 6),
            ["CERT_SANS"] = YamlList(cluster.CertSans, 4),
            ["HARDENING_DIR"] = HardeningDir,
            ["AUDIT_LOG_DIR"] = AuditLogSettings.Dir,
            ["AUDIT_LOG_PATH"] = AuditLogSettings.Path,
            ["AUDIT_LOG_MAX_AGE"] = Invariant(audit.MaxAgeDays),
            ["AUDIT_LOG_MAX_BACKUPS"] = Invariant(audit.MaxBackups),
            ["AUDIT_LOG_MAX_SIZE"] = Invariant(audit.MaxSizeMb),
        });

    private static AuditLogSettings DefaultAuditLog => new(ConfigDefaults.AuditLogMaxAgeDays, ConfigDefaults.AuditLogMaxBackups, ConfigDefaults.AuditLogMaxSizeMb);

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Where the API server's hardening files live on a control-plane node (kubeadm mounts it).</summary>
    public const string HardeningDir = "/etc/kubernetes/hardening";

    /// <summary>
    /// The API server's hardening files (audit policy, Pod Security defaults, anonymous access,
    /// Secrets encryption) and the script that installs them. Secret: it carries the keys.
    /// </summary>
    public static string ApiServerConfig(HardeningSettings hardening, IReadOnlyList<SecretsEncryptionKey> keys)
    {
        if (keys.Count == 0)
        {
            throw new ArgumentException("Secrets need at least one encryption key", nameof(keys));
        }
        foreach (var key in keys)
        {
            // secretbox takes exactly 32 bytes (k8s.io/apiserver storage/value/encrypt/secretbox).
            if (!Convert.TryFromBase64String(key.Secret, new byte[64], out var length) || length != 32)
            {
                throw new ArgumentException($"encryption key {key.Name} is not 32 bytes in base64", nameof(keys));
            }
        }
        var podSecurity = hardening.PodSecurity;
        string File(string name, IReadOnlyDictionary<string, string> values) => Template.Render(name, values).TrimEnd('\n');
        return Template.Render("apiserver-config.sh", new Dictionary<string, string>
        {
            ["DIR"] = Sh.Quote(HardeningDir),
            ["AUDIT_DIR"] = Sh.Quote(AuditLogSettings.Dir),
            ["AUDIT_POLICY"] = File("audit-policy.yaml", new Dictionary<string, string>()),
            ["POD_SECURITY"] = File("pod-security.yaml", new Dictionary<string, string>
            {
                ["ENFORCE"] = podSecurity.Enforce,
                ["WARN"] = podSecurity.Warn,
                ["AUDIT"] = podSecurity.Audit,
                ["EXEMPT_NAMESPACES"] = "[" + string.Join(", ", podSecurity.ExemptNamespaces) + "]",
            }),
            ["ANONYMOUS_AUTH"] = File("anonymous-auth.yaml", new Dictionary<string, string>()),
            ["ENCRYPTION_CONFIG"] = File("encryption-config.yaml", new Dictionary<string, string>
            {
                ["KEYS"] = string.Join("\n", keys.Select(k => $"            - name: {k.Name}\n              secret: {k.Secret}")),
            }),
        });
    }

    /// <param name="apiServerEndpoint">Where token discovery fetches cluster-info: the local API proxy.</param>
    /// <param name="controlPlane">True for a control-plane join: the node runs an API server on its VPC address.</param>
    /// <param name="dropletId">Labels the Node with its droplet, so a replacement can tell its own Node from a stale one.</param>
    public static string KubeadmJoinConfig(NodeAddress node, string apiServerEndpoint, string bootstrapToken, string caCertHash, bool controlPlane, bool schedulable, string? dropletId = null) =>
        Template.Render("kubeadm-join.yaml", new Dictionary<string, string>
        {
            ["NODE_NAME"] = node.Name,
            ["NODE_IP"] = node.PrivateIp,
            ["API_SERVER_ENDPOINT"] = apiServerEndpoint,
            ["BOOTSTRAP_TOKEN"] = bootstrapToken,
            ["CA_CERT_HASH"] = caCertHash,
            ["TAINTS"] = controlPlane ? Taints(schedulable) : "",
            ["NODE_LABELS"] = dropletId is null ? "" : $"    - name: node-labels\n      value: do-k8s-ha.io/droplet={dropletId}",
            ["CONTROL_PLANE"] = controlPlane
                ? $"controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: {node.PrivateIp}\n    bindPort: {ApiServerPort}"
                : "",
        }).TrimEnd('\n') + "\n";

    /// <summary>Puts the program's CAs and keys where kubeadm looks for them on a control-plane node.</summary>
    /// <summary>
    /// The program's own kubeconfig on a control-plane node (kubeadm:cluster-admins, through the
    /// local API proxy), installed with the PKI: kubeadm's admin.conf holds the same identity, but
    /// a node that has not joined yet has none, and it must delete a stale Node of its name first.
    /// </summary>
    public const string ProgramKubeconfig = "/etc/kubernetes/do-k8s-ha-admin.conf";

    public static string ControlPlanePki(ClusterPkiMaterial pki, string programKubeconfig)
    {
        var files = new StringBuilder();
        void File(string path, string mode, string pem) =>
            files.Append(FormattableString.Invariant($"install_file \"$PKI/{path}\" {mode} <<'PEM'\n{Pem(pem)}\nPEM\n"));
        File("ca.crt", "0644", pki.CaCert);
        File("ca.key", "0600", pki.CaKey);
        File("front-proxy-ca.crt", "0644", pki.FrontProxyCaCert);
        File("front-proxy-ca.key", "0600", pki.FrontProxyCaKey);
        File("sa.key", "0600", pki.ServiceAccountKey);
        File("sa.pub", "0644", pki.ServiceAccountPublicKey);
        File("etcd/ca.crt", "0644", pki.EtcdCaCert);
        File("apiserver-etcd-client.crt", "0644", pki.ApiServerEtcdClientCert);
        File("apiserver-etcd-client.key", "0600", pki.ApiServerEtcdClientKey);
        files.Append(FormattableString.Invariant($"install_file {Sh.Quote(ProgramKubeconfig)} 0600 <<'KUBECONFIG'\n{programKubeconfig.TrimEnd('\n')}\nKUBECONFIG\n"));
        return Template.Render("control-plane-pki.sh", new Dictionary<string, string> { ["PKI_FILES"] = files.ToString().TrimEnd('\n') });
    }

    /// <param name="mayInit">Only the inventory's first control-plane node may create the cluster.</param>
    /// <param name="joinWaitSeconds">How long a node waits for a live API server when the cluster exists.</param>
    /// <param name="etcdWaitSeconds">How long it waits for every etcd member to answer kubeadm's preflight.</param>
    public static string ControlPlane(
        KubeadmClusterInput cluster,
        NodeAddress node,
        bool mayInit,
        bool schedulable,
        string joinToken,
        string caCertHash,
        int joinWaitSeconds = 300,
        int etcdWaitSeconds = 60) =>
        Template.Render("control-plane.sh", new Dictionary<string, string>
        {
            ["API_PROXY"] = Sh.Quote(ApiProxyListen),
            ["API_SERVER_PORT"] = ApiServerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["JOIN_WAIT_SECONDS"] = joinWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ETCD_WAIT_SECONDS"] = etcdWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PROGRAM_KUBECONFIG"] = Sh.Quote(ProgramKubeconfig),
            ["DELETE_STALE_NODE"] = DeleteStaleNodeFunction(),
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["MAY_INIT"] = Sh.Bool(mayInit),
            ["ETCD_ENDPOINTS"] = Sh.Quote(string.Join(",", cluster.EtcdEndpoints)),
            ["JOIN_TOKEN_GIVEN"] = Sh.Bool(joinToken.Length > 0),
            ["INIT_CONFIG"] = KubeadmInitConfig(cluster, node, schedulable).TrimEnd('\n'),
            ["JOIN_CONFIG"] = KubeadmJoinConfig(node, ApiProxyListen, joinToken, caCertHash, controlPlane: true, schedulable).TrimEnd('\n'),
        });

    /// <summary>Points a control-plane node's API server, and kubeadm's stored config, at the inventory's etcd members.</summary>
    public static string ApiServerEtcdEndpoints(
        string nodeName,
        IEnumerable<string> etcdEndpoints,
        int waitSeconds = 300,
        string manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml") =>
        Template.Render("apiserver-etcd-endpoints.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["ETCD_ENDPOINTS"] = Sh.Quote(string.Join(",", etcdEndpoints)),
            ["MANIFEST"] = Sh.Quote(manifest),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <param name="dropletId">The droplet the worker is: its Node is labelled with it.</param>
    public static string WorkerJoin(NodeAddress node, string bootstrapToken, string caCertHash, string dropletId) =>
        Template.Render("worker-join.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["API_PROXY"] = Sh.Quote(ApiProxyListen),
            ["JOIN_CONFIG"] = KubeadmJoinConfig(node, ApiProxyListen, bootstrapToken, caCertHash, controlPlane: false, schedulable: true, dropletId).TrimEnd('\n'),
        });

    /// <summary>Longest life of a join token: the join follows its minting within minutes.</summary>
    public const string JoinTokenTtl = "1h0m0s";

    /// <summary>Run on a control-plane node: mints one node's join token and prints it.</summary>
    public static string JoinToken(string nodeName) =>
        Template.Render("join-token.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TTL"] = Sh.Quote(JoinTokenTtl),
        });

    /// <summary>Run on a control-plane node after a join: deletes the token it used.</summary>
    public static string JoinTokenDelete(string nodeName, string tokenId) =>
        Template.Render("join-token-delete.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TOKEN_ID"] = Sh.Quote(tokenId),
        });

    /// <summary>Run on a control-plane node before a worker joins: deletes a Node of its name that another droplet left.</summary>
    public static string StaleNode(string nodeName, string dropletId, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("stale-node.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["DROPLET_ID"] = Sh.Quote(dropletId),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    /// <summary>nginx stream config of the local API-server proxy: least_conn over every API server, 1 s connect timeout.</summary>
    public static string ApiProxyConfig(
        string nodeName,
        IEnumerable<string> apiServers,
        string listen = ApiProxyListen,
        string pidFile = "/run/kube-apiserver-proxy.pid",
        string streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so") =>
        Template.Render("api-proxy.nginx.conf", new Dictionary<string, string>
        {
            ["NODE_NAME"] = nodeName,
            ["STREAM_MODULE"] = streamModule,
            ["PID_FILE"] = pidFile,
            ["LISTEN"] = listen,
            ["UPSTREAM_SERVERS"] = string.Join("\n", apiServers.Select(s => $"    server {s} max_fails=1 fail_timeout=10s;")),
        });

    /// <summary>The proxy every Kubernetes node runs, control-plane nodes too: see <see cref="ApiProxyListen"/>.</summary>
    public static string ApiProxy(string nodeName, IEnumerable<NodeAddress> controlPlane) =>
        Template.Render("api-proxy.sh", new Dictionary<string, string>
        {
            ["LISTEN"] = ApiProxyListen,
            ["NGINX_CONF"] = ApiProxyConfig(nodeName, controlPlane.Select(c => $"{c.PrivateIp}:{ApiServerPort}")).TrimEnd('\n'),
        });

    /// <param name="kubeconfigFile">The admin credential of the control-plane node it runs on.</param>
    public static string NodeLeave(string nodeName, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("node-leave.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    /// <summary>The health gate: nodes Ready, CoreDNS available, scheduler and controller-manager leases held.</summary>
    public static string ClusterHealth(IEnumerable<string> kubernetesNodes, int timeoutSeconds) =>
        Template.Render("cluster-health.sh", new Dictionary<string, string>
        {
            ["EXPECTED_NODES"] = Sh.Quote(string.Join(" ", kubernetesNodes)),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <summary>The health gate's report of this node's certificates that expire within <paramref name="warnDays"/> days.</summary>
    public static string CertExpiry(int warnDays, IEnumerable<string>? certDirs = null, IEnumerable<string>? kubeconfigs = null) =>
        Template.Render("cert-expiry.sh", new Dictionary<string, string>
        {
            ["WARN_DAYS"] = warnDays.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CERT_DIRS"] = string.Join(" ", (certDirs ?? [KubePki, EtcdPkiDir]).Select(Sh.Quote)),
            ["KUBECONFIGS"] = string.Join(" ", (kubeconfigs ?? ["/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf"]).Select(Sh.Quote)),
        });

    public static string WaitForApi(string endpoint, int timeoutSeconds) =>
        Template.Render("wait-for-api.sh", new Dictionary<string, string>
        {
            ["ENDPOINT"] = Sh.Quote(endpoint),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <summary>NodeLocal DNSCache manifests; it listens on a link-local address and on kube-dns's service address.</summary>
    /// <summary>
    /// The kubelet serving certificate approver, for the inventory's Kubernetes nodes: each name
    /// resolves (in its pod) to that node's own VPC address only.
    /// </summary>
    public static string KubeletCsrApprover(string version, IReadOnlyList<NodeAddress> kubeletNodes)
    {
        if (kubeletNodes.Count == 0)
        {
            throw new ArgumentException("no Kubernetes node to approve certificates for", nameof(kubeletNodes));
        }
        return Template.Render("kubelet-csr-approver.yaml", new Dictionary<string, string>
        {
            ["VERSION"] = version.TrimStart('v'),
            // Node names are DNS labels: nothing in them needs escaping in a regular expression.
            ["PROVIDER_REGEX"] = $"^({string.Join("|", kubeletNodes.Select(n => n.Name))})$",
            ["PROVIDER_IP_PREFIXES"] = string.Join(",", kubeletNodes.Select(n => $"{n.PrivateIp}/32")),
            ["HOST_ALIASES"] = string.Join("\n", kubeletNodes.Select(n => $"        - ip: {n.PrivateIp}\n          hostnames: [{n.Name}]")),
        });
    }

    public static string NodeLocalDns(string version, string kubeDnsIp, string localIp = "169.254.20.10", string dnsDomain = "cluster.local") =>
        Template.Render("nodelocaldns.yaml", new Dictionary<string, string>
        {
            ["VERSION"] = version,
            ["KUBE_DNS_IP"] = kubeDnsIp,
            ["LOCAL_IP"] = localIp,
            ["DNS_DOMAIN"] = dnsDomain,
        });

    /// <summary>The local guard that refuses a downgrade or a skipped minor before anything changes.</summary>
    public static string VersionGuard(KubernetesVersion target) =>
        Template.Render("version-guard.sh", new Dictionary<string, string> { ["TARGET"] = Sh.Quote(target.ToString()) });

    /// <summary>The local guard that refuses more than one etcd member added, or removed, per update.</summary>
    public static string EtcdChangeGuard(IEnumerable<string> etcdNodes) =>
        Template.Render("etcd-change-guard.sh", new Dictionary<string, string> { ["ETCD_NODES"] = Sh.Quote(string.Join(" ", etcdNodes)) });

    /// <param name="first">The first node of the rolling order: it runs `kubeadm upgrade apply`.</param>
    /// <param name="kubeconfigFile">A control-plane node's own admin.conf, with which it drains itself; null for a worker.</param>
    public static string NodeUpgrade(string nodeName, KubernetesVersion target, bool first, string? kubeconfigFile, int waitSeconds = 600) =>
        Template.Render("node-upgrade.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TARGET"] = Sh.Quote(target.ToString()),
            ["TARGET_MINOR"] = Sh.Quote(target.RepositoryMinor),
            ["KUBEADM_UPGRADE"] = first ? "apply" : "node",
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile ?? ""),
            ["SANDBOX_IMAGE"] = SandboxImageFunction(),
            ["RETRY"] = Fragment("retry.fragment"),
            ["KUBERNETES_REPOSITORY"] = Fragment("kubernetes-repository.fragment"),
        });

    /// <summary>Drains a worker before its upgrade step, or uncordons it after: run on a control-plane node.</summary>
    public static string WorkerDrain(string nodeName, KubernetesVersion target, bool drain, int waitSeconds = 600, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("worker-drain.sh", new Dictionary<string, string>
        {
            ["MODE"] = drain ? "drain" : "uncordon",
            ["RETRY"] = Fragment("retry.fragment"),
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TARGET"] = Sh.Quote(target.ToString()),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    public static string Kubeconfig(string clusterName, string server, string caCert, string clientCert, string clientKey) =>
        Template.Render("kubeconfig.yaml", new Dictionary<string, string>
        {
            ["CLUSTER_NAME"] = clusterName,
            ["SERVER"] = server,
            ["CA_DATA"] = Base64(caCert),
            ["CLIENT_CERT_DATA"] = Base64(clientCert),
            ["CLIENT_KEY_DATA"] = Base64(clientKey),
        });

    /// <summary>
    /// The command text of every remote step: it reads the step from standard input into a
    /// root-only file on tmpfs, runs it with no standard input (so nothing it starts can eat the
    /// rest), and removes it. It holds no secret: pulumi-command prints a failed command's text
    /// (remote/commandOutputs.go, "running %q"), and the engine masks only config secrets.
    /// </summary>
    public const string StepRunner = "umask 077; f=$(mktemp /run/do-k8s-ha-step.XXXXXX) && trap 'rm -f \"$f\"' EXIT && cat > \"$f\" && bash \"$f\" </dev/null";

    /// <summary>
    /// One remote step of scripts that hold no secret, sent on stdin (<see cref="StepRunner"/>):
    /// each is kept on the node under /var/lib/do-k8s-ha/steps, readable only by root, and run
    /// in order; the first failure stops the step.
    /// </summary>
    public static string RemoteStep(params (string Name, string Script)[] scripts) => RemoteStepIn(StepsDir, scripts);

    /// <summary><see cref="RemoteStep"/> with the scripts kept somewhere else (tests use a scratch folder).</summary>
    public static string RemoteStepIn(string stepsDir, params (string Name, string Script)[] scripts) =>
        Step($"steps={Sh.Quote(stepsDir)}\ninstall -d -m 0700 \"$steps\"",
            "# Each script is kept on the node, readable only by root, so an operator can read or re-run it.",
            $"read or re-run {stepsDir}/<step>.sh there",
            scripts);

    /// <summary>
    /// A remote step whose scripts hold secrets (keys, tokens, kubeconfigs): they run from a
    /// root-only folder on tmpfs that goes when the step ends, so no file on the node keeps them.
    /// </summary>
    public static string SecretStep(params (string Name, string Script)[] scripts) =>
        Step("steps=$(mktemp -d /run/do-k8s-ha-steps.XXXXXX)\ntrap 'rm -rf \"$steps\"' EXIT",
            "# Its scripts hold secrets: they run from a private tmpfs folder and are not kept.",
            "its scripts hold secrets and are not kept: `pulumi up` runs the step again",
            scripts);

    private static string Step(string stepsDir, string where, string rerun, (string Name, string Script)[] scripts)
    {
        var runs = scripts.Select(s =>
        {
            if (s.Script.Contains("\nDO_K8S_HA_STEP\n", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"script {s.Name} contains the step delimiter");
            }
            return Template.Render("remote-step-run.fragment", new Dictionary<string, string>
            {
                ["STEP"] = s.Name,
                ["SCRIPT"] = s.Script.TrimEnd('\n'),
                ["RERUN"] = rerun.Replace("<step>", s.Name, StringComparison.Ordinal),
            }).TrimEnd('\n');
        });
        return Template.Render("remote-step.sh", new Dictionary<string, string>
        {
            ["WHERE"] = where,
            ["STEPS_DIR"] = stepsDir,
            ["RUNS"] = string.Join("\n", runs),
        });
    }

    /// <summary>Shell lines that put the admin kubeconfig in $kubeconfig for the rest of a script.</summary>
    private static string DeleteStaleNodeFunction() =>
        Template.Render("stale-node.fragment", new Dictionary<string, string>()).TrimEnd('\n');

    private static string Taints(bool schedulable) =>
        // An empty list removes kubeadm's default control-plane taint (for control-plane + worker nodes).
        schedulable ? "  taints: []" : "";

    private static string YamlList(IEnumerable<string> items, int indent) =>
        string.Join("\n", items.Select(i => $"{new string(' ', indent)}- {i}"));

    private static string Pem(string pem)
    {
        var trimmed = pem.Trim('\n');
        if (trimmed.Contains("\nPEM\n", StringComparison.Ordinal) || trimmed.EndsWith("\nPEM", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("a PEM block contains its heredoc delimiter");
        }
        return trimmed;
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text.TrimEnd('\n') + "\n"));
}
