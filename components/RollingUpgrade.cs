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
/// The upgrade step of every node. Creating it does nothing (node setup installed the version);
/// raising kubernetesVersion updates every step at once, and each node's script waits for the
/// nodes before it, so the cluster changes one node at a time, in order: Pulumi's graph stays
/// parallel (no chain of 100 steps at creation) while the upgrade itself is serial.
/// </summary>
public sealed class RollingUpgrade : ComponentResource
{
    public RollingUpgrade(string name, RollingUpgradeArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:RollingUpgrade", name, options)
    {
        var order = args.Nodes.Select(n => n.Node.Spec.Name).ToList();
        Steps = args.Nodes.Select((entry, index) =>
        {
            var (node, joined) = entry;
            return RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = $"echo '{node.Spec.Name} was installed with Kubernetes {args.Version}'",
                Update = args.AdminKubeconfig.Apply(kubeconfig => Render.RemoteStep(
                    ("node-upgrade", Render.NodeUpgrade(node.Spec.Name, args.Version, first: index == 0, order.Take(index), kubeconfig)))),
                DependsOn = [joined],
            }, parent: this);
        }).ToList();
        RegisterOutputs(new Dictionary<string, object?> { ["order"] = order });
    }

    public IReadOnlyList<Remote.Command> Steps { get; }
}
