using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class EtcdSnapshotsArgs
{
    public required EtcdBackupSettings Settings { get; init; }

    /// <summary>The etcd nodes and each one's service step: a node snapshots once its member runs.</summary>
    public required IReadOnlyList<(ClusterNode Node, Resource Service)> Members { get; init; }
    public required ClusterPki Pki { get; init; }

    /// <summary>Secret: where snapshots are uploaded, and with which key; null: they stay on the nodes.</summary>
    public Output<SnapshotUpload>? Upload { get; init; }
}

/// <summary>
/// Each etcd node snapshots its own member on a systemd timer, checks every snapshot and keeps the
/// newest (docs/backups.md), and uploads each to the off-site bucket when there is
/// one. One step per node, after that node's member runs; each takes a first snapshot, so a setup
/// that cannot snapshot fails the update.
/// </summary>
public sealed class EtcdSnapshots : ComponentResource
{
    public EtcdSnapshots(string name, EtcdSnapshotsArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:EtcdSnapshots", name, options)
    {
        var settings = args.Settings;
        var upload = args.Upload is { } given ? given.Apply(u => (SnapshotUpload?)u) : Output.Create((SnapshotUpload?)null);
        Steps = [.. args.Members.Select(m => RemoteStep.Create($"{name}-{m.Node.Spec.Name}", m.Node, new RemoteStepArgs
        {
            Create = Output.Tuple(args.Pki.Material.Apply(p => p.EtcdCaCert), args.Pki.EtcdSnapshotClient(m.Node.Spec.Name), upload)
                .Apply(t => Render.SecretStepScript(("etcd-snapshots",
                    Render.EtcdSnapshots(m.Node.Spec.Name, t.Item1, t.Item2, settings.EveryHours, settings.Keep, t.Item3)))),
            DependsOn = [m.Service],
        }, parent: this))];
        RegisterOutputs(new Dictionary<string, object?> { ["everyHours"] = settings.EveryHours, ["keep"] = settings.Keep });
    }

    /// <summary>Each etcd node's snapshot setup, in inventory order.</summary>
    public IReadOnlyList<Remote.Command> Steps { get; }
}
