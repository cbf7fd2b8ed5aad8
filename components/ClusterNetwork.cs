using DoK8sHa.Config;
using Pulumi;
using DO = Pulumi.DigitalOcean;

namespace DoK8sHa.Components;

public sealed class ClusterNetworkArgs
{
    public required string ClusterName { get; init; }
    public required string Region { get; init; }
    public required Cidr VpcCidr { get; init; }
    public required IReadOnlyList<Cidr> AdminCidrs { get; init; }
    public required string SshPublicKey { get; init; }

    /// <summary>A key already in the account (uploading it again is refused with 422); null: upload <see cref="SshPublicKey"/>.</summary>
    public string? ExistingSshKeyFingerprint { get; init; }

    /// <summary>A VPC to use instead of creating one (its range must be <see cref="VpcCidr"/>).</summary>
    public string? ExistingVpcId { get; init; }
}

/// <summary>
/// The network every node lives in: one VPC, the SSH key, the tags nodes are found by, and one
/// cloud firewall targeting the cluster tag (a tag scales past the 10-droplet limit of a firewall).
/// </summary>
public sealed class ClusterNetwork : ComponentResource
{
    public ClusterNetwork(string name, ClusterNetworkArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterNetwork", name, options)
    {
        var child = new CustomResourceOptions { Parent = this };

        // The first VPC made in a region becomes the account's default there, and DigitalOcean
        // refuses to delete a default VPC (403): docs/troubleshooting.md "`pulumi destroy` ends with 403 on the VPC".
        VpcId = args.ExistingVpcId is { } vpcId
            ? Output.Create(vpcId)
            : new DO.Vpc($"{name}-vpc", new DO.VpcArgs
            {
                Name = $"{args.ClusterName}-vpc",
                Region = args.Region,
                IpRange = args.VpcCidr.ToString(),
                Description = $"do-k8s-ha cluster {args.ClusterName}",
            }, child).Id;

        SshKeyFingerprint = args.ExistingSshKeyFingerprint is { } fingerprint
            ? Output.Create(fingerprint)
            : new DO.SshKey($"{name}-ssh-key", new DO.SshKeyArgs
            {
                Name = $"{args.ClusterName}-admin",
                PublicKey = args.SshPublicKey,
            }, child).Fingerprint;

        Tag NewTag(string suffix, string tagName) => new(new DO.Tag($"{name}-tag-{suffix}", new DO.TagArgs { Name = tagName }, child).Name);
        ClusterTag = NewTag("cluster", args.ClusterName).Name;
        RoleTags = new Dictionary<NodeRoles, Output<string>>
        {
            [NodeRoles.ControlPlane] = NewTag("control-plane", $"{args.ClusterName}-control-plane").Name,
            [NodeRoles.Etcd] = NewTag("etcd", $"{args.ClusterName}-etcd").Name,
            [NodeRoles.Worker] = NewTag("worker", $"{args.ClusterName}-worker").Name,
        };

        // Firewalls target tags (a firewall takes at most 10 droplets by id), and sources are tags
        // too: only the cluster's own droplets, not everything in the VPC range.
        Firewall = new DO.Firewall($"{name}-firewall", new DO.FirewallArgs
        {
            Name = $"{args.ClusterName}-nodes",
            Tags = { ClusterTag },
            InboundRules = FirewallRules.Nodes(args.AdminCidrs, ClusterTag).ToList(),
            OutboundRules = FirewallRules.Outbound().ToList(),
        }, new CustomResourceOptions
        {
            Parent = this,
            // Every departure step and add-on is deletedWith this firewall, and the engine replaces
            // whatever is deletedWith a resource it replaces (pulumi step_generator.go): a new
            // firewall would drain every node, remove every etcd member and reinstall every
            // add-on at once. Only the whole stack's destroy takes it (--ignore-protect).
            Protect = true,
        });
        EtcdFirewall = new DO.Firewall($"{name}-firewall-etcd", new DO.FirewallArgs
        {
            Name = $"{args.ClusterName}-etcd",
            Tags = { RoleTags[NodeRoles.Etcd] },
            InboundRules = FirewallRules.Etcd(RoleTags[NodeRoles.ControlPlane], RoleTags[NodeRoles.Etcd]).ToList(),
        }, child);

        _clusterName = args.ClusterName;
        _adminCidrs = args.AdminCidrs;
        RegisterOutputs(new Dictionary<string, object?>
        {
            ["vpcId"] = VpcId,
            ["clusterTag"] = ClusterTag,
        });
    }

    /// <summary>The VPC the nodes and the load balancer are in, made here or given.</summary>
    public Output<string> VpcId { get; }

    /// <summary>The account SSH key every droplet gets, uploaded here or given.</summary>
    public Output<string> SshKeyFingerprint { get; }

    // What the API firewall, made after the load balancer, needs from the network's args.
    private readonly string _clusterName;
    private readonly IReadOnlyList<Cidr> _adminCidrs;

    /// <summary>
    /// The API servers' firewall, on control-plane nodes: 6443 from the cluster's nodes and the
    /// load balancer, or from the admin networks when there is none. Made once the load balancer
    /// exists (it needs this network's VPC and tags first).
    /// </summary>
    public DO.Firewall OpenApi(string name, Output<string>? loadBalancerId) =>
        new(name, new DO.FirewallArgs
        {
            Name = $"{_clusterName}-api",
            Tags = { RoleTags[NodeRoles.ControlPlane] },
            InboundRules = FirewallRules.Api(ClusterTag, loadBalancerId is null ? null : (Input<string>)loadBalancerId, _adminCidrs).ToList(),
        }, new CustomResourceOptions { Parent = this });

    /// <summary>Every node's firewall; it goes only with the whole cluster.</summary>
    public DO.Firewall Firewall { get; }

    /// <summary>etcd's client and peer ports, on etcd nodes.</summary>
    public DO.Firewall EtcdFirewall { get; }

    /// <summary>Carried by every node: the firewall applies to it.</summary>
    public Output<string> ClusterTag { get; }

    /// <summary>One tag per role: the API load balancer finds control-plane nodes by theirs.</summary>
    public IReadOnlyDictionary<NodeRoles, Output<string>> RoleTags { get; }

    private sealed record Tag(Output<string> Name);
}

/// <summary>
/// The firewalls' rules, kept apart so tests read them as data. Each port is open on the nodes
/// that serve it, to the sources that use it: SSH from the admin networks; kubelet, VXLAN, Typha
/// and ICMP from cluster nodes (by tag); etcd clients from control-plane and etcd nodes, etcd
/// peers from etcd nodes; the API on control-plane nodes from cluster nodes and the load
/// balancer (SSH too, for its relay), or from the admin networks when there is no load
/// balancer. Nothing else inbound.
/// </summary>
public static class FirewallRules
{
    private static DO.Inputs.FirewallInboundRuleArgs Rule(string protocol, string? ports, IEnumerable<string>? addresses = null, IEnumerable<Input<string>>? tags = null, Input<string>? loadBalancer = null)
    {
        var rule = new DO.Inputs.FirewallInboundRuleArgs { Protocol = protocol };
        if (ports is not null)
        {
            rule.PortRange = ports;
        }
        if (addresses is not null)
        {
            rule.SourceAddresses = addresses.ToList();
        }
        foreach (var tag in tags ?? [])
        {
            rule.SourceTags.Add(tag);
        }
        if (loadBalancer is not null)
        {
            rule.SourceLoadBalancerUids.Add(loadBalancer);
        }
        return rule;
    }

    public static IEnumerable<DO.Inputs.FirewallInboundRuleArgs> Nodes(IReadOnlyList<Cidr> admin, Input<string> clusterTag)
    {
        yield return Rule("tcp", "22", admin.Select(c => c.ToString()));
        yield return Rule("tcp", "10250", tags: [clusterTag]);
        // Calico: VXLAN between nodes (cloud firewalls cannot pass IP-in-IP) and Typha.
        yield return Rule("udp", "4789", tags: [clusterTag]);
        yield return Rule("tcp", "5473", tags: [clusterTag]);
        yield return Rule("icmp", null, tags: [clusterTag]);
    }

    public static IEnumerable<DO.Inputs.FirewallInboundRuleArgs> Etcd(Input<string> controlPlaneTag, Input<string> etcdTag)
    {
        yield return Rule("tcp", Ports.EtcdClient.ToString(System.Globalization.CultureInfo.InvariantCulture), tags: [controlPlaneTag, etcdTag]);
        yield return Rule("tcp", Ports.EtcdPeer.ToString(System.Globalization.CultureInfo.InvariantCulture), tags: [etcdTag]);
    }

    /// <param name="loadBalancer">The API load balancer's id; null: users reach the API servers from <paramref name="admin"/>.</param>
    public static IEnumerable<DO.Inputs.FirewallInboundRuleArgs> Api(Input<string> clusterTag, Input<string>? loadBalancer, IReadOnlyList<Cidr> admin)
    {
        var port = $"{Ports.ApiServer}";
        if (loadBalancer is not null)
        {
            yield return Rule("tcp", port, tags: [clusterTag], loadBalancer: loadBalancer);
            // The balancer's SSH relay (ApiLoadBalancer.SshRelayPort); it admits only the admins.
            yield return Rule("tcp", "22", loadBalancer: loadBalancer);
        }
        else
        {
            yield return Rule("tcp", port, tags: [clusterTag]);
            yield return Rule("tcp", port, admin.Select(c => c.ToString()));
        }
    }

    public static IEnumerable<DO.Inputs.FirewallOutboundRuleArgs> Outbound()
    {
        var anywhere = new List<string> { "0.0.0.0/0", "::/0" };
        yield return new() { Protocol = "tcp", PortRange = "1-65535", DestinationAddresses = anywhere };
        yield return new() { Protocol = "udp", PortRange = "1-65535", DestinationAddresses = anywhere };
        yield return new() { Protocol = "icmp", DestinationAddresses = anywhere };
    }
}
