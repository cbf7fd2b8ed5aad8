namespace DoK8sHa.Config;

/// <summary>How users reach the API servers from outside the cluster.</summary>
public enum ApiLoadBalancerMode
{
    /// <summary>A DigitalOcean load balancer, TCP 6443 pass-through: survives the loss of any control-plane node.</summary>
    DigitalOcean,

    /// <summary>The kubeconfig points at the first control-plane node. Not highly available.</summary>
    None,
}

/// <summary>The add-ons installed through Pulumi.Kubernetes once the API answers, each version pinned.</summary>
public sealed record AddonSettings(
    string CalicoVersion,
    string MetricsServerVersion,
    bool Dashboard,
    string DashboardVersion,
    bool NodeLocalDns,
    string NodeLocalDnsVersion,
    bool DnsAutoscaler,
    string DnsAutoscalerVersion);

/// <summary>The validated stack configuration. Everything the components need, nothing read twice.</summary>
public sealed record ClusterSettings
{
    /// <summary>Prefix of every cloud resource name and tag, from the stack name.</summary>
    public required string ClusterName { get; init; }
    public required string Region { get; init; }
    public required string Image { get; init; }
    public required KubernetesVersion KubernetesVersion { get; init; }

    /// <summary>The files a node of <see cref="KubernetesVersion"/> downloads, with their checksums (<see cref="ReleaseTable"/>).</summary>
    public required NodeReleases NodeReleases { get; init; }
    public required string EtcdVersion { get; init; }
    public required string EtcdSha256 { get; init; }
    public required IReadOnlyList<NodeSpec> Nodes { get; init; }
    public required IReadOnlyList<Cidr> AdminCidrs { get; init; }
    public required Cidr VpcCidr { get; init; }
    public required Cidr PodCidr { get; init; }
    public required Cidr ServiceCidr { get; init; }

    /// <summary>The size of the pod range each node gets from <see cref="PodCidr"/>.</summary>
    public required int NodeCidrMaskSize { get; init; }
    public required string SshPublicKey { get; init; }
    public required string SshUser { get; init; }

    /// <summary>An SSH key already in the account, by its MD5 fingerprint; null: upload <see cref="SshPublicKey"/>.</summary>
    public string? SshKeyFingerprint { get; init; }

    /// <summary>An existing VPC to put the nodes in; null: create one of <see cref="VpcCidr"/>.</summary>
    public string? VpcId { get; init; }
    public required ApiLoadBalancerMode ApiLoadBalancer { get; init; }
    public required AddonSettings Addons { get; init; }
    public required HardeningSettings Hardening { get; init; }
    public required EtcdBackupSettings Backups { get; init; }

    /// <summary>
    /// Nodes whose droplets are dead or gone (lostNodes): a rolling upgrade passes them by (their
    /// steps run nothing; other changes still reach them), the health gate does not wait for them,
    /// and their departures run only while a live node can run them; when every control-plane
    /// node is among them the first one restores the control plane as soon as the old leases
    /// lapse. A droplet made anew in a lost node's place is set up as any new one.
    /// </summary>
    public IReadOnlySet<string> LostNodes { get; init; } = new HashSet<string>();

    public bool IsLost(NodeSpec node) => LostNodes.Contains(node.Name);

    /// <summary>
    /// A lost node's Kubernetes departure runs nothing when no other control-plane node is alive
    /// to run it (components/NodeDepartures.cs: through the balancer's relay, or on the first
    /// other live control-plane node): pulumi-command fails a delete it cannot dial.
    /// </summary>
    public bool KubernetesDepartureDisarmed(NodeSpec node) =>
        IsLost(node) && node.IsKubernetesNode && !ControlPlaneNodes.Any(c => c.Name != node.Name && !IsLost(c));

    /// <summary>
    /// A lost member's departure runs nothing when no live node could run it, or when the members
    /// not lost are no quorum: etcd then refuses every membership change (etcdserver/server.go,
    /// mayRemoveMember; the quorum-lost runbook restores from a snapshot instead).
    /// </summary>
    public bool EtcdDepartureDisarmed(NodeSpec node)
    {
        if (!IsLost(node) || !node.IsEtcd)
        {
            return false;
        }
        var members = EtcdNodes.ToList();
        var alive = members.Count(m => !IsLost(m));
        var janitors = ApiLoadBalancer == ApiLoadBalancerMode.DigitalOcean && ControlPlaneNodes.All(c => c.IsEtcd) ? ControlPlaneNodes : members;
        return alive < (members.Count / 2) + 1 || !janitors.Any(j => j.Name != node.Name && !IsLost(j));
    }

    /// <summary>The CAs and service-account key of an openssl-era stack, kept; null: the TLS provider makes them.</summary>
    public LegacyPki? LegacyPki { get; init; }

    public IEnumerable<NodeSpec> ControlPlaneNodes => Nodes.Where(n => n.IsControlPlane);
    public IEnumerable<NodeSpec> EtcdNodes => Nodes.Where(n => n.IsEtcd);

    /// <summary>
    /// The node that creates the cluster with <c>kubeadm init</c> when none exists yet: the first
    /// control-plane node in inventory order. Its script also joins if the cluster already exists,
    /// so replacing or removing it later needs no special handling.
    /// </summary>
    public NodeSpec InitNode => ControlPlaneNodes.First();
}
