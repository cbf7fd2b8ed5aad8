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
    public const int ApiServerPort = 6443;

    public ClusterNetwork(string name, ClusterNetworkArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterNetwork", name, options)
    {
        var child = new CustomResourceOptions { Parent = this };

        // The first VPC made in a region becomes the account's default there, and DigitalOcean
        // refuses to delete a default VPC (403): README "Destroy" says what that leaves.
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

        Firewall = new DO.Firewall($"{name}-firewall", new DO.FirewallArgs
        {
            Name = $"{args.ClusterName}-nodes",
            Tags = { ClusterTag },
            InboundRules = FirewallRules.Inbound(args.VpcCidr, args.AdminCidrs).ToList(),
            OutboundRules = FirewallRules.Outbound().ToList(),
        }, child);

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
    public DO.Firewall Firewall { get; }

    /// <summary>Carried by every node: the firewall applies to it.</summary>
    public Output<string> ClusterTag { get; }

    /// <summary>One tag per role: the API load balancer finds control-plane nodes by theirs.</summary>
    public IReadOnlyDictionary<NodeRoles, Output<string>> RoleTags { get; }

    private sealed record Tag(Output<string> Name);
}

/// <summary>
/// The firewall's rules, kept apart so tests read them as data: SSH and the API only from the
/// admin networks; etcd, kubelet and Calico only from inside the VPC; nothing else inbound.
/// </summary>
public static class FirewallRules
{
    public static IEnumerable<DO.Inputs.FirewallInboundRuleArgs> Inbound(Cidr vpc, IReadOnlyList<Cidr> admin)
    {
        var adminSources = admin.Select(c => c.ToString()).ToList();
        var vpcSource = new List<string> { vpc.ToString() };

        DO.Inputs.FirewallInboundRuleArgs Rule(string protocol, string? ports, List<string> sources)
        {
            var rule = new DO.Inputs.FirewallInboundRuleArgs { Protocol = protocol, SourceAddresses = sources };
            if (ports is not null)
            {
                rule.PortRange = ports;
            }
            return rule;
        }

        yield return Rule("tcp", "22", adminSources);
        yield return Rule("tcp", $"{ClusterNetwork.ApiServerPort}", adminSources);
        // Nodes' API proxies and the load balancer reach the API servers over the VPC.
        yield return Rule("tcp", $"{ClusterNetwork.ApiServerPort}", vpcSource);
        yield return Rule("tcp", "2379-2380", vpcSource);
        yield return Rule("tcp", "10250", vpcSource);
        // Calico: VXLAN between nodes (cloud firewalls cannot pass IP-in-IP) and Typha.
        yield return Rule("udp", "4789", vpcSource);
        yield return Rule("tcp", "5473", vpcSource);
        yield return Rule("icmp", null, vpcSource);
    }

    public static IEnumerable<DO.Inputs.FirewallOutboundRuleArgs> Outbound()
    {
        var anywhere = new List<string> { "0.0.0.0/0", "::/0" };
        yield return new() { Protocol = "tcp", PortRange = "1-65535", DestinationAddresses = anywhere };
        yield return new() { Protocol = "udp", PortRange = "1-65535", DestinationAddresses = anywhere };
        yield return new() { Protocol = "icmp", DestinationAddresses = anywhere };
    }
}
