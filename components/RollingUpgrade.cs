using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class RollingUpgradeArgs
{
    public required KubernetesVersion Version { get; init; }

    /// <summary>Every node with a kubelet in rolling order: the init node, the other control-plane nodes, then workers.</summary>
    public required IReadOnlyList<(ClusterNode Node, Resource Joined)> Nodes { get; init; }

    /// <summary>Secret: the admin kubeconfig for use on the nodes.</summary>
    public required Output<string> AdminKubeconfig { get; init; }
}

/// <summary>
/// The upgrade step of every node, chained by dependsOn in rolling order. Creating one runs
/// nothing and connects nowhere (node setup installed the version), so the chain costs nothing
/// at creation. Raising kubernetesVersion updates the steps, and the engine runs each only after
/// the one before it has finished: one node at a time, in order. No script waits for another
/// node: a step waiting inside its script would hold one of the engine's --parallel slots
/// (4 × CPUs by default), and with more nodes than slots the nodes it waits for would never start.
/// </summary>
public sealed class RollingUpgrade : ComponentResource
{
    public RollingUpgrade(string name, RollingUpgradeArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:RollingUpgrade", name, options)
    {
        var order = args.Nodes.Select(n => n.Node.Spec.Name).ToList();
        var steps = new List<Remote.Command>();
        foreach (var (node, joined) in args.Nodes)
        {
            var first = steps.Count == 0;
            steps.Add(RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = null,
                Update = args.AdminKubeconfig.Apply(kubeconfig => Render.SecretStep(
                    ("node-upgrade", Render.NodeUpgrade(node.Spec.Name, args.Version, first, kubeconfig)))),
                DependsOn = first ? [joined] : [joined, steps[^1]],
            }, parent: this));
        }
        Steps = steps;
        RegisterOutputs(new Dictionary<string, object?> { ["order"] = order });
    }

    public IReadOnlyList<Remote.Command> Steps { get; }
}
