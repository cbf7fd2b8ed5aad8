using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class WorkerPoolArgs
{
    /// <summary>Worker nodes that run no API server (control-plane + worker nodes joined with the control plane).</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>Every control-plane node: the upstreams of each worker's API proxy.</summary>
    public required IReadOnlyList<ClusterNode> ControlPlaneNodes { get; init; }
    public required ControlPlane ControlPlane { get; init; }
    public required Output<ClusterPkiMaterial> Pki { get; init; }

    /// <summary>A node joins only after the machine it replaces has left.</summary>
    public required NodeDepartures Departures { get; init; }
}

/// <summary>
/// The workers: each gets a local API-server proxy, then joins through it. A join depends on the
/// cluster existing and on its own node only, never on another worker: they all join at once.
/// </summary>
public sealed class WorkerPool : ComponentResource
{
    public WorkerPool(string name, WorkerPoolArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:WorkerPool", name, options)
    {
        var apiServers = Output.All(args.ControlPlaneNodes.Select(n => n.Address));
        var proxies = new List<Remote.Command>();
        var joins = new List<Remote.Command>();
        foreach (var node in args.Nodes)
        {
            var proxy = RemoteStep.Create($"{name}-{node.Spec.Name}-api-proxy", node, new RemoteStepArgs
            {
                Create = apiServers.Apply(servers => Render.RemoteStep(("api-proxy", Render.ApiProxy(node.Spec.Name, servers)))),
                DependsOn = [node.Ready],
            }, parent: this);

            var join = RemoteStep.Create($"{name}-{node.Spec.Name}-join", node, new RemoteStepArgs
            {
                Create = Output.Tuple(node.Address, args.Pki, args.ControlPlane.LocalAdminKubeconfig).Apply(t =>
                    Render.RemoteStep(("worker-join", Render.WorkerJoin(t.Item1, t.Item2.BootstrapToken, t.Item2.CaCertHash, t.Item3)))),
                DependsOn = [proxy, args.ControlPlane.Init, args.Departures.Kubernetes(node)],
            }, parent: this);
            proxies.Add(proxy);
            joins.Add(join);
        }
        Nodes = args.Nodes;
        Proxies = proxies;
        Joins = joins;
        RegisterOutputs(new Dictionary<string, object?> { ["workers"] = args.Nodes.Select(n => n.Spec.Name).ToList() });
    }

    public IReadOnlyList<ClusterNode> Nodes { get; }
    public IReadOnlyList<Remote.Command> Proxies { get; }
    public IReadOnlyList<Remote.Command> Joins { get; }
}
