using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class EtcdSnapshotBeforeChangeArgs
{
    /// <summary>The etcd nodes of the inventory.</summary>
    public required IReadOnlyList<ClusterNode> Members { get; init; }

    /// <summary>What a change of runs the snapshots again: the etcd release, the Kubernetes release, the etcd nodes' names.</summary>
    public required string EtcdVersion { get; init; }
    public required string KubernetesVersion { get; init; }

    /// <summary>lostNodes: a dead droplet has no member to snapshot (nor has its replacement, before it joins).</summary>
    public IReadOnlySet<string> Lost { get; init; } = new HashSet<string>();
}

/// <summary>
/// A snapshot on every etcd node that has a member, before an update changes etcd's members
/// (a node added or removed), the etcd release or the Kubernetes release: the steps that make
/// those changes depend on these. Each runs again when one of them changes; a member that is
/// there but cannot be snapshotted stops the update first (docs/backups.md). A replaced
/// droplet's member leaves before the update registers its successor, so that case relies on
/// the scheduled snapshots.
/// </summary>
public sealed class EtcdSnapshotBeforeChange : ComponentResource
{
    public EtcdSnapshotBeforeChange(string name, EtcdSnapshotBeforeChangeArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:EtcdSnapshotBeforeChange", name, options)
    {
        // Known in a preview: names and versions, never a droplet's new id.
        var membership = string.Join(",", args.Members.Select(m => m.Spec.Name));
        Steps = [.. args.Members.Select(node => RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
        {
            Create = args.Lost.Contains(node.Spec.Name) ? null : (Input<string>)Render.StepScript(("etcd-before-change", Render.EtcdBeforeChange(node.Spec.Name))),
            RunsNothing = args.Lost.Contains(node.Spec.Name),
            DependsOn = [node.Ready],
            Triggers = [(Input<object>)args.EtcdVersion, (Input<object>)args.KubernetesVersion, (Input<object>)membership],
        }, parent: this))];
        RegisterOutputs(new Dictionary<string, object?> { ["members"] = membership });
    }

    /// <summary>One step per etcd node; what changes etcd or the releases waits for all.</summary>
    public IReadOnlyList<Remote.Command> Steps { get; }
}
