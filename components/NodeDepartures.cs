using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class NodeDeparturesArgs
{
    /// <summary>Every node of the inventory, in inventory order.</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>
    /// A resource that goes only with the whole cluster: when it is deleted too (`pulumi destroy`),
    /// the departures are skipped, as there is no cluster left to take the nodes out of.
    /// </summary>
    public required Resource Cluster { get; init; }

    /// <summary>
    /// The API load balancer, if there is one: its SSH relay reaches a control-plane node whose API
    /// server is ready, so the departures run on any survivor rather than a fixed one.
    /// </summary>
    public ApiLoadBalancer? Relay { get; init; }

    /// <summary>
    /// lostNodes: a lost node is no janitor, and a lost node's departure that no live node could
    /// run runs nothing (ClusterSettings.KubernetesDepartureDisarmed, EtcdDepartureDisarmed), so
    /// that replacing its droplet dials no dead janitor.
    /// </summary>
    public required ClusterSettings Settings { get; init; }
}

/// <summary>
/// How a node leaves the cluster when its droplet goes (removed from the inventory, replaced, or
/// destroyed): a step whose delete drains it and deletes its Node object, and for an etcd node
/// one whose delete removes its member. They run through the load balancer's SSH relay, on
/// whichever control-plane node the balancer finds healthy, so they succeed while any of them
/// lives (a step has one connection, and pulumi-command gives up on a dead host: a fixed janitor
/// would stop the update whenever it is the dead one). Without a balancer, or for etcd members
/// when control-plane nodes are not etcd members (no etcdctl, no etcd client certificate), they
/// run on the first other node of the same kind. A departure's delete uses the connection
/// recorded in the state: the balancer's address outlives every node, a node's does not. Each
/// follows its own node's droplet, and the steps that make a node part of the cluster wait for
/// its departure steps: whatever the order Pulumi replaces things in, the old machine has left
/// before the new one joins. Creating a departure step runs nothing and connects nowhere, and a
/// whole-stack destroy skips them all (deletedWith the cluster's firewall): draining nodes of a
/// cluster that is going is wasted minutes, and would fail on a janitor that is already dead.
/// A lost node's departures (lostNodes) run on a live node while one can run them, and nothing
/// at all otherwise: when every control-plane node is dead no janitor answers (and with the etcd
/// quorum lost no member can be removed), and pulumi-command fails a delete whose connection it cannot dial
/// (remote/commandController.go, Delete) but skips one without a delete command. The engine
/// deletes a step with the inputs the state holds (pulumi step.go, DeleteStep: old.Inputs), so
/// the disarmed step must reach the state before the droplet is replaced: docs/backups.md.
/// </summary>
public sealed class NodeDepartures : ComponentResource
{
    private readonly Dictionary<string, Remote.Command> _kubernetes = [];
    private readonly Dictionary<string, Remote.Command> _etcd = [];

    public NodeDepartures(string name, NodeDeparturesArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:NodeDepartures", name, options)
    {
        var settings = args.Settings;
        var controlPlane = args.Nodes.Where(n => n.Spec.IsControlPlane).ToList();
        var etcd = args.Nodes.Where(n => n.Spec.IsEtcd).ToList();
        // A lost node is no janitor.
        var live = (IReadOnlyList<ClusterNode> nodes) => nodes.Where(n => !settings.IsLost(n.Spec)).ToList();
        var members = Output.All(etcd.Select(n => n.Address));
        var relay = args.Relay is null ? null : new Janitor(args.Relay.RelayConnection(controlPlane[0].Connection), [args.Relay.LoadBalancer, .. controlPlane.Select(n => (Resource)n.Ready)]);
        // The relay lands on any control-plane node: etcd work goes there only if each is a member.
        var etcdRelay = controlPlane.All(n => n.Spec.IsEtcd) ? relay : null;
        // The scripts are kept on the janitor under the leaving node's name: several nodes may
        // leave through the same janitor at once (pulumi destroy) and must not overwrite each other's.
        foreach (var node in args.Nodes)
        {
            if (node.Spec.IsKubernetesNode)
            {
                _kubernetes[node.Spec.Name] = Departure($"{name}-{node.Spec.Name}", node, relay ?? FirstOther(live(controlPlane), node), args.Cluster,
                    settings.KubernetesDepartureDisarmed(node.Spec) ? null : (Input<string>)Render.StepScript(($"node-leave-{node.Spec.Name}", Render.NodeLeave(node.Spec.Name))));
            }
            if (node.Spec.IsEtcd)
            {
                // Not "-etcd": nodes named X and X-etcd would both have a leave-X-etcd step.
                _etcd[node.Spec.Name] = Departure($"{name}-{node.Spec.Name}.etcd", node, etcdRelay ?? FirstOther(live(etcd), node), args.Cluster,
                    settings.EtcdDepartureDisarmed(node.Spec) ? null
                        : (Input<string>)Output.Tuple(node.Address, members).Apply(t => Render.StepScript(($"etcd-member-remove-{node.Spec.Name}", Render.EtcdMemberRemove(t.Item1, t.Item2)))));
            }
        }
        RegisterOutputs(new Dictionary<string, object?>
        {
            ["kubernetes"] = _kubernetes.Keys.ToList(),
            ["etcd"] = _etcd.Keys.ToList(),
            ["disarmed"] = args.Nodes.Where(n => settings.KubernetesDepartureDisarmed(n.Spec) || settings.EtcdDepartureDisarmed(n.Spec)).Select(n => n.Spec.Name).ToList(),
        });
    }

    /// <summary>The step that takes the node out of Kubernetes; its join waits for it.</summary>
    public Remote.Command Kubernetes(ClusterNode node) => _kubernetes[node.Spec.Name];

    /// <summary>The step that takes the node's member out of etcd; its member step waits for it.</summary>
    public Remote.Command Etcd(ClusterNode node) => _etcd[node.Spec.Name];

    public IEnumerable<Remote.Command> Steps => _kubernetes.Values.Concat(_etcd.Values);

    private Remote.Command Departure(string name, ClusterNode leaving, Janitor janitor, Resource cluster, Input<string>? delete) =>
        RemoteStep.Create(name, leaving, new RemoteStepArgs
        {
            // Renamed from "-etcd": without the alias the engine would delete the old step, and
            // its delete takes the node out of etcd.
            FormerNames = name.EndsWith(".etcd", StringComparison.Ordinal) ? [name[..^".etcd".Length] + "-etcd"] : [],
            Create = null,
            Delete = delete,
            RunsNothing = delete is null,
            DeletedWith = cluster,
            // Deleted before what it connects through: the janitors stay until the departure ran.
            DependsOn = janitor.Needs,
            RunVia = janitor.Connection,
        }, parent: this);

    /// <summary>Where a departure runs: a connection, and what must outlive the departure for it to work.</summary>
    private sealed record Janitor(ConnectionArgs Connection, IReadOnlyList<Resource> Needs);

    /// <summary>The first node of the kind that is not the one leaving; the node itself if it is the only one.</summary>
    private static Janitor FirstOther(IReadOnlyList<ClusterNode> candidates, ClusterNode leaving)
    {
        var node = candidates.FirstOrDefault(c => c != leaving) ?? leaving;
        return new(node.Connection, [node.Ready]);
    }
}
