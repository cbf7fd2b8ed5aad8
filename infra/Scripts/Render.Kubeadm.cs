using System.Text;
using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>kubeadm: its configs, the control-plane PKI and step, joins and their tokens.</summary>
public static partial class Render
{
    /// <summary>ClusterConfiguration + KubeletConfiguration + this node's InitConfiguration.</summary>
    public static string KubeadmInitConfig(KubeadmClusterInput cluster, NodeAddress node, bool schedulable)
    {
        var audit = cluster.AuditLog ?? AuditLogSettings.Default;
        return Template.Render("kubeadm-init.yaml", new Dictionary<string, string>
        {
            ["API_SERVER_PORT"] = Ports.ApiServer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["NODE_NAME"] = node.Name,
            ["NODE_IP"] = node.PrivateIp,
            ["TAINTS"] = Taints(schedulable),
        }) + "---\n" + Template.Render("kubeadm-cluster.yaml", new Dictionary<string, string>
        {
            ["CLUSTER_NAME"] = cluster.ClusterName,
            ["KUBERNETES_VERSION"] = cluster.Version.ToString(),
            ["CONTROL_PLANE_ENDPOINT"] = Ports.ApiProxyListen,
            ["NODE_CIDR_MASK_SIZE"] = cluster.NodeCidrMaskSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["POD_CIDR"] = cluster.PodCidr.ToString(),
            ["SERVICE_CIDR"] = cluster.ServiceCidr.ToString(),
            ["ETCD_ENDPOINTS"] = YamlList(cluster.EtcdEndpoints, 6),
            ["CERT_SANS"] = YamlList(cluster.CertSans, 4),
            ["HARDENING_DIR"] = HardeningDir,
            ["KUBELET_SERVING_CA"] = KubeletServingCaFile,
            ["AUDIT_LOG_DIR"] = AuditLogSettings.Dir,
            ["AUDIT_LOG_PATH"] = AuditLogSettings.Path,
            ["AUDIT_LOG_MAX_AGE"] = Invariant(audit.MaxAgeDays),
            ["AUDIT_LOG_MAX_BACKUPS"] = Invariant(audit.MaxBackups),
            ["AUDIT_LOG_MAX_SIZE"] = Invariant(audit.MaxSizeMb),
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
                ? $"controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: {node.PrivateIp}\n    bindPort: {Ports.ApiServer}"
                : "",
        }).TrimEnd('\n') + "\n";

    /// <summary>
    /// The program's own kubeconfig on a control-plane node (kubeadm:cluster-admins, through the
    /// local API proxy), installed with the PKI: kubeadm's admin.conf holds the same identity, but
    /// a node that has not joined yet has none, and it must delete a stale Node of its name first.
    /// </summary>
    public const string ProgramKubeconfig = "/etc/kubernetes/do-k8s-ha-admin.conf";

    /// <summary>Puts the program's CAs and keys where kubeadm looks for them on a control-plane node.</summary>
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
        File(Path.GetFileName(KubeletServingCaFile), "0644", pki.KubeletServingCaCert);
        File("apiserver-etcd-client.crt", "0644", pki.ApiServerEtcdClientCert);
        File("apiserver-etcd-client.key", "0600", pki.ApiServerEtcdClientKey);
        files.Append(FormattableString.Invariant($"install_file {Sh.Quote(ProgramKubeconfig)} 0600 <<'KUBECONFIG'\n{programKubeconfig.TrimEnd('\n')}\nKUBECONFIG\n"));
        return Template.Render("control-plane-pki.sh", new Dictionary<string, string> { ["PKI_FILES"] = files.ToString().TrimEnd('\n') });
    }

    /// <summary>
    /// How long the lost API servers' leases may outlive them: kube-apiserver's lease is 15 s,
    /// renewed every 10 s (pkg/controlplane/reconcilers/lease.go), and an etcd leader elected
    /// meanwhile grants every lease its TTL again (etcd server/lease/lessor.go, Promote). Four TTLs.
    /// </summary>
    public const int LeaseLapseSeconds = 60;

    /// <param name="mayInit">Only the inventory's first control-plane node may create the cluster.</param>
    /// <param name="joinWaitSeconds">How long a node waits for a live API server when the cluster exists.</param>
    /// <param name="etcdWaitSeconds">How long it waits for every etcd member to answer kubeadm's preflight.</param>
    /// <param name="peersLost">lostNodes lists every control-plane node: no API server is waited for beyond its lease.</param>
    public static string ControlPlaneScript(
        KubeadmClusterInput cluster,
        NodeAddress node,
        bool mayInit,
        bool schedulable,
        string joinToken,
        string caCertHash,
        int joinWaitSeconds = 300,
        int etcdWaitSeconds = 60,
        bool peersLost = false,
        int leaseLapseSeconds = LeaseLapseSeconds) =>
        Template.Render("control-plane.sh", new Dictionary<string, string>
        {
            ["PEERS_LOST"] = Sh.Bool(peersLost),
            ["LEASE_LAPSE_SECONDS"] = leaseLapseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["API_PROXY"] = Sh.Quote(Ports.ApiProxyListen),
            ["API_SERVER_PORT"] = Ports.ApiServer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["JOIN_WAIT_SECONDS"] = joinWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ETCD_WAIT_SECONDS"] = etcdWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PROGRAM_KUBECONFIG"] = Sh.Quote(ProgramKubeconfig),
            ["DELETE_STALE_NODE"] = DeleteStaleNodeFunction(),
            ["WAIT_UNTIL_ANSWERS"] = Fragment("wait-until-answers.fragment"),
            ["INTERRUPTED_JOIN"] = Fragment("interrupted-join.fragment"),
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["MAY_INIT"] = Sh.Bool(mayInit),
            ["ETCD_ENDPOINTS"] = Sh.Quote(string.Join(",", cluster.EtcdEndpoints)),
            ["JOIN_TOKEN_GIVEN"] = Sh.Bool(joinToken.Length > 0),
            ["INIT_CONFIG"] = KubeadmInitConfig(cluster, node, schedulable).TrimEnd('\n'),
            ["JOIN_CONFIG"] = KubeadmJoinConfig(node, Ports.ApiProxyListen, joinToken, caCertHash, controlPlane: true, schedulable).TrimEnd('\n'),
        });

    /// <summary>
    /// Points a control-plane node's API server, and kubeadm's stored config, at the inventory's
    /// etcd members, with the flags and certificate names the program keeps current.
    /// </summary>
    /// <param name="node">The control-plane node: its name and address are in its API server's certificate.</param>
    /// <param name="certSans">apiServer.certSANs (<see cref="ApiServerCertSans"/>).</param>
    /// <param name="flags">API server flags (apiServer.extraArgs) the program keeps current on a live cluster; none: only etcd's members.</param>
    public static string ApiServerEtcdEndpointsScript(
        NodeAddress node,
        IEnumerable<string> etcdEndpoints,
        IReadOnlyList<string> certSans,
        int waitSeconds = 300,
        string manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml",
        string pki = "/etc/kubernetes/pki",
        IReadOnlyList<(string Name, string Value)>? flags = null) =>
        Template.Render("apiserver-etcd-endpoints.sh", new Dictionary<string, string>
        {
            ["API_SERVER_PORT"] = Ports.ApiServer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["CERT_SANS"] = Sh.Quote(string.Join(" ", certSans)),
            ["PKI"] = Sh.Quote(pki),
            ["ETCD_ENDPOINTS"] = Sh.Quote(string.Join(",", etcdEndpoints)),
            ["MANIFEST"] = Sh.Quote(manifest),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FLAGS"] = Sh.Quote(string.Join("\n", (flags ?? []).Select(f => $"{f.Name}={f.Value}"))),
        });

    /// <summary>
    /// Renews kubeadm's own certificates on a control-plane node that end before
    /// <paramref name="renewBefore"/> (the end of its renewal clock), restarting what reads them.
    /// </summary>
    public static string KubeadmCerts(string nodeName, string renewBefore, int waitSeconds = 300) =>
        Template.Render("kubeadm-certs.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["RENEW_BEFORE"] = Sh.Quote(renewBefore),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["API_SERVER_PORT"] = Ports.ApiServer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <summary>
    /// The API server certificate's names beside the node's own (apiServer.certSANs): 127.0.0.1, the
    /// controlPlaneEndpoint (the local proxy), which kubeadm does not add itself, and the addresses
    /// users reach the API at (the load balancer's, or without one the first control-plane node's).
    /// </summary>
    public static IReadOnlyList<string> ApiServerCertSans(IEnumerable<string> apiAddresses) => ["127.0.0.1", "localhost", .. apiAddresses];

    /// <summary>The API server flags kubeadm renders from the config that the program keeps current after creation.</summary>
    public static IReadOnlyList<(string Name, string Value)> ManagedApiServerFlags(AuditLogSettings audit) =>
    [
        // Kept current too: a cluster made before the kubelet-serving CA trusted the cluster CA,
        // which signs whatever the CSR API approves (docs/hardening.md).
        ("kubelet-certificate-authority", KubeletServingCaFile),
        ("audit-log-maxage", audit.MaxAgeDays.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("audit-log-maxbackup", audit.MaxBackups.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("audit-log-maxsize", audit.MaxSizeMb.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <param name="dropletId">The droplet the worker is: its Node is labelled with it.</param>
    public static string WorkerJoin(NodeAddress node, string bootstrapToken, string caCertHash, string dropletId) =>
        Template.Render("worker-join.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["API_PROXY"] = Sh.Quote(Ports.ApiProxyListen),
            ["WAIT_UNTIL_ANSWERS"] = Fragment("wait-until-answers.fragment"),
            ["INTERRUPTED_JOIN"] = Fragment("interrupted-join.fragment"),
            ["JOIN_CONFIG"] = KubeadmJoinConfig(node, Ports.ApiProxyListen, bootstrapToken, caCertHash, controlPlane: false, schedulable: true, dropletId).TrimEnd('\n'),
        });

    /// <summary>Longest life of a join token: the join follows its minting within minutes.</summary>
    public const string JoinTokenTtl = "1h0m0s";

    /// <summary>Run on a control-plane node: mints one node's join token and prints it.</summary>
    /// <param name="mayPrecedeCluster">The first control-plane node's token: minted before any cluster exists, it is then empty.</param>
    public static string JoinTokenScript(string nodeName, bool mayPrecedeCluster = false) =>
        Template.Render("join-token.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TTL"] = Sh.Quote(JoinTokenTtl),
            ["MAY_PRECEDE_CLUSTER"] = Sh.Bool(mayPrecedeCluster),
        });

    /// <summary>Run on a control-plane node after a join: deletes the token it used.</summary>
    public static string JoinTokenDelete(string nodeName, string tokenId) =>
        Template.Render("join-token-delete.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TOKEN_ID"] = Sh.Quote(tokenId),
        });

    private static string Taints(bool schedulable) =>
        // An empty list removes kubeadm's default control-plane taint (for control-plane + worker nodes).
        schedulable ? "  taints: []" : "";
}
