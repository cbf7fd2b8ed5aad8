using System.Collections.Immutable;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class EtcdClusterArgs
{
    public required string ClusterName { get; init; }
    public required string EtcdVersion { get; init; }
    public required string EtcdSha256 { get; init; }

    /// <summary>The nodes with the etcd role, in inventory order.</summary>
    public required IReadOnlyList<ClusterNode> Members { get; init; }
    public required ClusterPki Pki { get; init; }

    /// <summary>A member joins only after the machine it replaces has left.</summary>
    public required NodeDepartures Departures { get; init; }

    /// <summary>What every member's configuration and restart wait for (the snapshots before a change).</summary>
    public IReadOnlyList<Resource> After { get; init; } = [];

    /// <summary>The snapshot a new cluster starts from (config etcdRestoreFrom); null: a new cluster starts empty.</summary>
    public SnapshotSource? RestoreFrom { get; init; }

    /// <summary>Secret: the snapshot bucket and its key, which a restore from a bucket object downloads with.</summary>
    public Output<SnapshotUpload>? Bucket { get; init; }
}

/// <summary>
/// The external etcd cluster the API servers use: one systemd etcd per etcd node, TLS for peers
/// and clients, configured on every member at once, its service started or restarted one member
/// after another. A leaving member is taken out by NodeDepartures.
/// </summary>
public sealed class EtcdCluster : ComponentResource
{
    public EtcdCluster(string name, EtcdClusterArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:EtcdCluster", name, options)
    {
        var addresses = Output.All(args.Members.Select(m => m.Address));
        var token = $"{args.ClusterName}-etcd";

        var credentialSteps = new StepChain();
        var services = new StepChain();
        Members = args.Members.Select(node =>
        {
            // The member's own credential and the CA certificate, never the CA key, by a step of its
            // own, one member after another: a renewal runs these again in turn (each checks the
            // certificate before it replaces the old one, and etcd reloads it without a restart),
            // never every member's step at once.
            var credentials = credentialSteps.Add(RemoteStep.Create($"{name}-{node.Spec.Name}.credentials", node, new RemoteStepArgs
            {
                Create = Output.Tuple(node.Address, args.Pki.Material.Apply(p => p.EtcdCaCert), args.Pki.EtcdMember(node.Spec.Name))
                    .Apply(t => Render.SecretStepScript(("etcd-certs", Render.EtcdCerts(t.Item1, t.Item2, t.Item3)))),
                DependsOn = credentialSteps.After(node.Ready, args.Departures.Etcd(node)),
            }, parent: this));

            // A restore from the bucket: the snapshot is fetched first, with the bucket's key, by a
            // step of its own (the key is a secret; the member's step is kept on the node).
            Resource[] fetched = [];
            if (args.RestoreFrom?.BucketObject is { } bucketObject)
            {
                var bucket = args.Bucket ?? throw new InvalidOperationException("a restore from the snapshot bucket needs the bucket");
                fetched = [RemoteStep.Create($"{name}-{node.Spec.Name}.restore-snapshot", node, new RemoteStepArgs
                {
                    Create = bucket.Apply(b => Render.SecretStepScript(("etcd-snapshot-fetch", Render.EtcdSnapshotFetch(node.Spec.Name, bucketObject, b)))),
                    DependsOn = [node.Ready, args.Departures.Etcd(node)],
                }, parent: this)];
            }
            var restoreSnapshot = args.RestoreFrom switch
            {
                { NodePath: { } path } => path,
                { BucketObject: { } bucketKey } => Render.EtcdRestoreTarget(bucketKey),
                _ => null,
            };

            // The release and the member's configuration, on every member at once (a download each).
            var configured = RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = Output.Tuple(node.Address, addresses).Apply(t => Render.StepScript(
                    ("etcd-install", Render.EtcdInstall(args.EtcdVersion, args.EtcdSha256)),
                    ("etcd-member", Render.EtcdMember(t.Item1, t.Item2, token, etcdVersion: args.EtcdVersion, restoreSnapshot: restoreSnapshot)))),
                DependsOn = [node.Ready, args.Departures.Etcd(node), credentials, .. fetched, .. args.After],
            }, parent: this);

            // The service, one member after another: at creation each start returns at once and the
            // members form the quorum together; on a change of unit, configuration or release, each
            // restarts only while every member is healthy and is healthy again before the next
            // (etcd-service.sh), where steps run side by side would restart every member at once.
            // (Its departure step runs elsewhere and is created long before cloud-init is done.)
            return services.Add(RemoteStep.Create($"{name}-{node.Spec.Name}.service", node, new RemoteStepArgs
            {
                Create = node.Address.Apply(a => Render.StepScript(("etcd-service", Render.EtcdService(a.PrivateIp)))),
                DependsOn = services.After(configured),
                // A restore also starts a member that stays (set aside and stopped: docs/backups.md
                // "Quorum lost"), which no other input of this step would run it again for.
                Triggers = restoreSnapshot is null ? [] : [restoreSnapshot],
            }, parent: this));
        }).ToList();
        CredentialSteps = credentialSteps.Steps;

        ClientEndpoints = addresses.Apply(all => Render.EtcdClientUrls(all).ToImmutableArray());

        RegisterOutputs(new Dictionary<string, object?> { ["clientEndpoints"] = ClientEndpoints });
    }

    /// <summary>Each member's certificate and key, installed one member after another.</summary>
    public IReadOnlyList<Remote.Command> CredentialSteps { get; }

    /// <summary>Each member's service step, in order; the cluster is started when all have run.</summary>
    public IReadOnlyList<Remote.Command> Members { get; }

    public Output<ImmutableArray<string>> ClientEndpoints { get; }
}
