namespace DoK8sHa.Scripts;

/// <summary>Cluster-wide checks and files: health, certificate expiry, the API wait, NodeLocal DNS, kubeconfigs.</summary>
public static partial class Render
{
    /// <summary>The health gate: nodes Ready, CoreDNS available, scheduler and controller-manager leases held.</summary>
    /// <param name="dnsAutoscaler">The DNS autoscaler runs: it is checked, and CoreDNS must have its minimum of replicas.</param>
    /// <param name="nodeLocalDns">NodeLocal DNSCache runs: it must be ready on every node it is scheduled to.</param>
    /// <param name="lost">lostNodes among <paramref name="kubernetesNodes"/>: not waited for (counted when Ready).</param>
    public static string ClusterHealth(IReadOnlyCollection<string> kubernetesNodes, int timeoutSeconds, bool dnsAutoscaler, bool nodeLocalDns, IReadOnlyCollection<string> lost) =>
        Template.Render("cluster-health.sh", new Dictionary<string, string>
        {
            ["EXPECTED_NODES"] = Sh.Quote(string.Join(" ", kubernetesNodes)),
            ["LOST_NODES"] = Sh.Quote(string.Join(" ", kubernetesNodes.Where(lost.Contains))),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["COREDNS_MIN_AVAILABLE"] = (dnsAutoscaler ? DnsMinReplicas(kubernetesNodes.Count) : 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DNS_AUTOSCALER"] = Sh.Bool(dnsAutoscaler),
            ["NODELOCALDNS"] = Sh.Bool(nodeLocalDns),
        });

    /// <summary>The health gate's report of this node's certificates that expire within <paramref name="warnDays"/> days.</summary>
    public static string CertExpiry(int warnDays, IEnumerable<string>? certDirs = null, IEnumerable<string>? kubeconfigs = null) =>
        Template.Render("cert-expiry.sh", new Dictionary<string, string>
        {
            ["WARN_DAYS"] = warnDays.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CERT_DIRS"] = string.Join(" ", (certDirs ?? [KubePki, EtcdPkiDir, KubeletServingDir]).Select(Sh.Quote)),
            ["KUBECONFIGS"] = string.Join(" ", (kubeconfigs ?? ["/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf"]).Select(Sh.Quote)),
        });

    public static string WaitForApi(string endpoint, int timeoutSeconds) =>
        Template.Render("wait-for-api.sh", new Dictionary<string, string>
        {
            ["ENDPOINT"] = Sh.Quote(endpoint),
            ["TIMEOUT_SECONDS"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WAIT_UNTIL_ANSWERS"] = Fragment("wait-until-answers.fragment"),
        });

    /// <summary>NodeLocal DNSCache manifests; it listens on a link-local address and on kube-dns's service address.</summary>
    public static string NodeLocalDns(string version, string kubeDnsIp, string localIp = "169.254.20.10", string dnsDomain = "cluster.local") =>
        Template.Render("nodelocaldns.yaml", new Dictionary<string, string>
        {
            ["VERSION"] = version,
            ["KUBE_DNS_IP"] = kubeDnsIp,
            ["LOCAL_IP"] = localIp,
            ["DNS_DOMAIN"] = dnsDomain,
        });

    /// <summary>
    /// CoreDNS's replicas scaled with the cluster; at least two where there are two Kubernetes
    /// nodes to spread them over (Kubespray's dns_min_replicas), one on a single node.
    /// </summary>
    public static string DnsAutoscaler(string version, int kubernetesNodes) =>
        Template.Render("dns-autoscaler.yaml", new Dictionary<string, string>
        {
            ["VERSION"] = version,
            ["MIN_REPLICAS"] = DnsMinReplicas(kubernetesNodes).ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    public static int DnsMinReplicas(int kubernetesNodes) => Math.Clamp(kubernetesNodes, 1, 2);

    public static string Kubeconfig(string clusterName, string server, string caCert, string clientCert, string clientKey) =>
        Template.Render("kubeconfig.yaml", new Dictionary<string, string>
        {
            ["CLUSTER_NAME"] = clusterName,
            ["SERVER"] = server,
            ["CA_DATA"] = Base64(caCert),
            ["CLIENT_CERT_DATA"] = Base64(clientCert),
            ["CLIENT_KEY_DATA"] = Base64(clientKey),
        });
}
