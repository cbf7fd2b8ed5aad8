using System.Collections.Immutable;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class ApiServerEtcdEndpointsArgs
{
    /// <summary>Every control-plane node with its kubeadm step, in inventory order.</summary>
    public required IReadOnlyList<(ClusterNode Node, Remote.Command Joined)> ControlPlane { get; init; }
    public required Output<ImmutableArray<string>> EtcdEndpoints { get; init; }

    /// <summary>apiServer.certSANs beside each node's own names (Render.ApiServerCertSans): each API server's certificate is kept naming them.</summary>
    public required Output<IReadOnlyList<string>> CertSans { get; init; }

    /// <summary>API server flags (apiServer.extraArgs) kept current on a live cluster, as etcd's members are.</summary>
    public IReadOnlyList<(string Name, string Value)> Flags { get; init; } = [];

    /// <summary>
    /// What every step waits for besides its node's join: every kubelet serving its own certificate
    /// before an API server of a cluster made earlier trusts only the kubelet-serving CA.
    /// </summary>
    public IReadOnlyList<Resource> After { get; init; } = [];
}

/// <summary>
/// Keeps every API server pointed at the etcd members of the inventory, with the flags the
/// program manages after creation (the audit log's rotation) and a certificate naming every
/// address the API is reached at (a new load balancer, or without one a replaced first node). kubeadm writes both once, at init
/// and join; when etcd nodes change or a flag's setting does, these steps change them on one
/// control-plane node after another (each step depends on the one before), so the cluster never
/// loses more than one API server at a time. At creation they change nothing.
/// </summary>
public sealed class ApiServerEtcdEndpoints : ComponentResource
{
    public ApiServerEtcdEndpoints(string name, ApiServerEtcdEndpointsArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ApiServerEtcdEndpoints", name, options)
    {
        var steps = new StepChain();
        foreach (var (node, joined) in args.ControlPlane)
        {
            var script = Output.Tuple(args.EtcdEndpoints, args.CertSans, node.Address).Apply(t =>
                Render.StepScript(("apiserver-etcd-endpoints", Render.ApiServerEtcdEndpointsScript(t.Item3, t.Item1, t.Item2, flags: args.Flags))));
            steps.Add(RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = script,
                DependsOn = steps.After([joined, .. args.After]),
            }, parent: this));
        }
        Steps = steps.Steps;
        RegisterOutputs(new Dictionary<string, object?> { ["etcdEndpoints"] = args.EtcdEndpoints });
    }

    /// <summary>One step per control-plane node, in the order they run.</summary>
    public IReadOnlyList<Remote.Command> Steps { get; }
}
