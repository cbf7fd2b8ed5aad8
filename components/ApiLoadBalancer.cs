using DoK8sHa.Config;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using DO = Pulumi.DigitalOcean;

namespace DoK8sHa.Components;

public sealed class ApiLoadBalancerArgs
{
    public required string ClusterName { get; init; }
    public required string Region { get; init; }
    public required Input<string> VpcId { get; init; }

    /// <summary>The control-plane tag: the balancer follows nodes as they come and go (and passes the 10-droplet limit of IDs).</summary>
    public required Input<string> ControlPlaneTag { get; init; }

    /// <summary>The only networks the balancer admits (cloud firewalls do not apply to load balancers).</summary>
    public required IReadOnlyList<DoK8sHa.Config.Cidr> AdminCidrs { get; init; }
}

/// <summary>
/// A DigitalOcean load balancer in front of every API server: TCP pass-through on 6443, so TLS
/// ends at the API servers. Users reach the cluster through it; nodes never need it. It also
/// relays SSH to a healthy control-plane node for the steps that may run on any of them.
/// </summary>
public sealed class ApiLoadBalancer : ComponentResource
{
    public ApiLoadBalancer(string name, ApiLoadBalancerArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ApiLoadBalancer", name, options)
    {
        LoadBalancer = new DO.LoadBalancer($"{name}-lb", new DO.LoadBalancerArgs
        {
            Name = $"{args.ClusterName}-api",
            Region = args.Region,
            VpcUuid = args.VpcId,
            DropletTag = args.ControlPlaneTag,
            Firewall = new DO.Inputs.LoadBalancerFirewallArgs { Allows = [.. args.AdminCidrs.Select(c => $"cidr:{c}")] },
            ForwardingRules =
            {
                new DO.Inputs.LoadBalancerForwardingRuleArgs
                {
                    EntryProtocol = "tcp",
                    EntryPort = Ports.ApiServer,
                    TargetProtocol = "tcp",
                    TargetPort = Ports.ApiServer,
                },
                // SSH to whichever control-plane node is healthy: the node departures run there,
                // so a node leaves while any control-plane node lives (NodeDepartures).
                new DO.Inputs.LoadBalancerForwardingRuleArgs
                {
                    EntryProtocol = "tcp",
                    EntryPort = SshRelayPort,
                    TargetProtocol = "tcp",
                    TargetPort = 22,
                },
            },
            // DigitalOcean's fastest detection (3 s interval, 2 failures): a dead API server leaves within ~6 s.
            // /readyz, not a TCP connect: an API server that lost etcd still accepts connections
            // but answers 500 there, and leaves the pool. kubeadm's RBAC lets anyone read it
            // (system:public-info-viewer), and a TCP-forwarding rule may still check over https.
            Healthcheck = new DO.Inputs.LoadBalancerHealthcheckArgs
            {
                Protocol = "https",
                Path = "/readyz",
                Port = Ports.ApiServer,
                CheckIntervalSeconds = 3,
                ResponseTimeoutSeconds = 3,
                HealthyThreshold = 2,
                UnhealthyThreshold = 2,
            },
        }, new CustomResourceOptions { Parent = this });

        Ip = LoadBalancer.Ip;
        RegisterOutputs(new Dictionary<string, object?> { ["ip"] = Ip });
    }

    /// <summary>The balancer's port that relays SSH to a control-plane node whose API server is ready.</summary>
    public const int SshRelayPort = 2222;

    /// <summary>
    /// The node's SSH credentials, to the balancer's relay port. No host key is pinned: the relay
    /// lands on whichever control-plane node is healthy, each with a key of its own, and
    /// pulumi-command pins one key at most. What answers there is ours: the balancer's address is
    /// held for the stack's life (it outlives every departure) and it forwards only to droplets
    /// with the control-plane tag.
    /// </summary>
    public ConnectionArgs RelayConnection(ConnectionArgs node, int? dialErrorLimit = null) => new()
    {
        Host = Ip,
        Port = SshRelayPort,
        User = node.User,
        PrivateKey = node.PrivateKey,
        DialErrorLimit = dialErrorLimit ?? node.DialErrorLimit,
        PerDialTimeout = node.PerDialTimeout,
    };

    public DO.LoadBalancer LoadBalancer { get; }
    public Output<string> Ip { get; }
}
