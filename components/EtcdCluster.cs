using System.Collections.Immutable;
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
}

/// <summary>
/// The external etcd cluster the API servers use: one systemd etcd per etcd node, TLS for peers
/// and clients, all members started at once. A leaving member is taken out by NodeDepartures.
/// </summary>
public sealed class EtcdCluster : ComponentResource
{
    public EtcdCluster(string name, EtcdClusterArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:EtcdCluster", name, options)
    {
        var addresses = Output.All(args.Members.Select(m => m.Address));
        var token = $"{args.ClusterName}-etcd";

        Members = args.Members.Select(node =>
        {
            // The member's own credential and the CA certificate: never the CA key.
            var create = Output.Tuple(node.Address, addresses, args.Pki.Material.Apply(p => p.EtcdCaCert), args.Pki.EtcdMember(node.Spec.Name)).Apply(t =>
            {
                var (self, all, caCert, credential) = t;
                return Render.SecretStep(
                    ("etcd-certs", Render.EtcdCerts(self, caCert, credential)),
                    ("etcd-install", Render.EtcdInstall(args.EtcdVersion, args.EtcdSha256)),
                    ("etcd-member", Render.EtcdMember(self, all, token, etcdVersion: args.EtcdVersion)),
                    ("etcd-service", Render.EtcdService()));
            });
            // Members depend only on their own node: all of them start together and form the quorum.
            // (Its departure step runs elsewhere and is created long before cloud-init is done.)
            return RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = create,
                DependsOn = [node.Ready, args.Departures.Etcd(node)],
            }, parent: this);
        }).ToList();

        ClientEndpoints = addresses.Apply(all => Render.EtcdClientUrls(all).ToImmutableArray());

        RegisterOutputs(new Dictionary<string, object?> { ["clientEndpoints"] = ClientEndpoints });
    }

    /// <summary>One step per member; the cluster is started when all have run.</summary>
    public IReadOnlyList<Remote.Command> Members { get; }

    public Output<ImmutableArray<string>> ClientEndpoints { get; }
}
