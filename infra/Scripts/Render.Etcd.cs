using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>The etcd members: certificates, configuration, install, the service, membership and health.</summary>
public static partial class Render
{
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
            ["CHECK_CREDENTIAL"] = Fragment("credential-check.fragment"),
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
            ["ETCD_CLIENT_PORT"] = Ports.EtcdClient.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ETCD_PEER_PORT"] = Ports.EtcdPeer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PEER_ALLOWED_CN"] = EtcdReadsAllowedCns(etcdVersion)
                ? $"  # Peers are members: the API server's client certificate, from the same CA, is refused here.\n  allowed-cn: [{EtcdMemberCommonName}]"
                : $"  # etcd {etcdVersion} cannot restrict peers to member certificates from a config file (3.6 can).",
            ["NODE_NAME"] = node.Name,
            ["NODE_IP"] = node.PrivateIp,
            ["DATA_DIR"] = dataDir,
            ["PKI_DIR"] = pkiDir,
            ["INITIAL_CLUSTER"] = string.Join(",", members.Select(m => $"{m.Name}=https://{m.PrivateIp}:{Ports.EtcdPeer}")),
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

    public static string EtcdInstall(string etcdVersion, string etcdSha256, string configFile = EtcdConfigFile) =>
        Template.Render("etcd-install.sh", new Dictionary<string, string>
        {
            ["ETCD_VERSION"] = Sh.Quote(etcdVersion),
            ["ETCD_SHA256"] = Sh.Quote(etcdSha256),
            ["CONFIG"] = Sh.Quote(configFile),
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
        string etcdVersion = ConfigDefaults.EtcdVersion,
        string? restoreSnapshot = null) =>
        Template.Render("etcd-member.sh", new Dictionary<string, string>
        {
            ["RESTORE_SNAPSHOT"] = Sh.Quote(restoreSnapshot ?? ""),
            ["ETCD_PEER_PORT"] = Ports.EtcdPeer.ToString(System.Globalization.CultureInfo.InvariantCulture),
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

    /// <summary>Starts the member, or restarts it (only while every member is healthy) and waits until it is healthy again.</summary>
    public static string EtcdService(string nodeIp, string pkiDir = EtcdPkiDir, string etcdctl = "/usr/local/bin/etcdctl") =>
        Template.Render("etcd-service.sh", new Dictionary<string, string>
        {
            ["CONFIG"] = Sh.Quote(EtcdConfigFile),
            ["DATA_DIR"] = Sh.Quote(EtcdDataDir),
            ["NODE_IP"] = Sh.Quote(nodeIp),
            ["PKI_DIR"] = Sh.Quote(pkiDir),
            ["ETCDCTL"] = Sh.Quote(etcdctl),
            ["ETCD_CLIENT_PORT"] = Ports.EtcdClient.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <param name="pkiDir">The client certificate of the member the removal runs on.</param>
    public static string EtcdMemberRemove(NodeAddress node, IReadOnlyList<NodeAddress> members, string pkiDir = EtcdPkiDir, string snapshotTool = EtcdSnapshotTool) =>
        Template.Render("etcd-member-remove.sh", new Dictionary<string, string>
        {
            ["SNAPSHOT_TOOL"] = Sh.Quote(snapshotTool),
            ["ETCD_PEER_PORT"] = Ports.EtcdPeer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", EtcdClientUrls(members))),
            ["PKI_DIR"] = Sh.Quote(pkiDir),
            ["MEMBER_CHANGE"] = MemberChangeFunction(),
        });

    /// <summary>The shell function both etcd scripts change the membership with, retrying while etcd refuses.</summary>
    private static string MemberChangeFunction() => Fragment("etcd-member-change.fragment");

    /// <summary>The health check, run with the API server's own etcd client certificate by default.</summary>
    /// <param name="lost">Endpoints of members on lostNodes: with <paramref name="requireAll"/>, they may be down (the quorum still counts them).</param>
    public static string EtcdHealth(
        IEnumerable<string> clientEndpoints,
        bool requireAll,
        int timeoutSeconds,
        string caFile = KubePki + "/etcd/ca.crt",
        string certFile = KubePki + "/apiserver-etcd-client.crt",
        string keyFile = KubePki + "/apiserver-etcd-client.key",
        IReadOnlyCollection<string>? lost = null) =>
        Template.Render("etcd-health.sh", new Dictionary<string, string>
        {
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", clientEndpoints)),
            ["LOST_ENDPOINTS"] = Sh.Quote(string.Join(",", lost ?? [])),
            ["CA_FILE"] = Sh.Quote(caFile),
            ["CERT_FILE"] = Sh.Quote(certFile),
            ["KEY_FILE"] = Sh.Quote(keyFile),
            ["REQUIRE_ALL"] = Sh.Bool(requireAll),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    public static IEnumerable<string> EtcdClientUrls(IEnumerable<NodeAddress> members) =>
        members.Select(m => $"https://{m.PrivateIp}:{Ports.EtcdClient}");
}
