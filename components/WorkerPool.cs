using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class WorkerPoolArgs
{
    /// <summary>Worker nodes that run no API server (control-plane + worker nodes joined with the control plane).</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>Every control-plane node; without a balancer, the first runs what needs the API about a worker.</summary>
    public required IReadOnlyList<ClusterNode> ControlPlaneNodes { get; init; }

    /// <summary>Each worker's packages and local API proxy, which it joins through.</summary>
    public required KubernetesNodeSetup Setup { get; init; }
    public required ControlPlane ControlPlane { get; init; }
    public required Output<ClusterPkiMaterial> Pki { get; init; }

    /// <summary>A node joins only after the machine it replaces has left.</summary>
    public required NodeDepartures Departures { get; init; }

    /// <summary>
    /// The API load balancer, if there is one: what needs the API about a worker runs through its
    /// SSH relay, on whichever control-plane node is ready, so workers join while any lives.
    /// </summary>
    public ApiLoadBalancer? Relay { get; init; }

    /// <summary>The step after which the relay admits a node (the API answers through the balancer).</summary>
    public Resource? RelayReady { get; init; }
}

/// <summary>
/// The workers: each joins through its local API-server proxy. A join depends on the cluster
/// existing and on its own node only, never on another worker: they all join at once.
/// </summary>
public sealed class WorkerPool : ComponentResource
{
    public WorkerPool(string name, WorkerPoolArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:WorkerPool", name, options)
    {
        var joins = new List<Remote.Command>();
        // On a control-plane node, with its own admin credential: the worker holds none. Through
        // the relay, any ready one (node1 may be dead); without a balancer, the first.
        var via = args.Relay?.RelayConnection(args.ControlPlaneNodes[0].Connection);
        List<Resource> clusterReady = via is not null && args.RelayReady is not null ? [args.ControlPlane.Init, args.RelayReady] : [args.ControlPlane.Init];
        foreach (var node in args.Nodes)
        {
            var stale = RemoteStep.Create($"{name}-{node.Spec.Name}.stale-node", node, new RemoteStepArgs
            {
                Create = node.Droplet.Id.Apply(id => Render.StepScript(($"stale-node-{node.Spec.Name}", Render.StaleNode(node.Spec.Name, id)))),
                DependsOn = [.. clusterReady, args.Departures.Kubernetes(node)],
                RunOn = args.ControlPlaneNodes[0],
                RunVia = via,
            }, parent: this);
            var token = new JoinToken($"{name}-{node.Spec.Name}", node, args.ControlPlaneNodes[0], clusterReady, this, via);
            var join = RemoteStep.Create($"{name}-{node.Spec.Name}-join", node, new RemoteStepArgs
            {
                Create = Output.Tuple(node.Address, args.Pki, node.Droplet.Id, token.Token).Apply(t =>
                    Render.SecretStepScript(("worker-join", Render.WorkerJoin(t.Item1, t.Item4, t.Item2.CaCertHash, t.Item3)))),
                DependsOn = [args.Setup.For(node), .. args.Setup.BeforeKubelet(node), stale, token.Mint],
            }, parent: this);
            token.DeleteAfter(join);
            joins.Add(join);
        }
        Nodes = args.Nodes;
        Joins = joins;
        RegisterOutputs(new Dictionary<string, object?> { ["workers"] = args.Nodes.Select(n => n.Spec.Name).ToList() });
    }

    public IReadOnlyList<ClusterNode> Nodes { get; }
    public IReadOnlyList<Remote.Command> Joins { get; }
}
