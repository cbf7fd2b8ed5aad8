using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class RollingUpgradeArgs
{
    /// <summary>The release the nodes move to, and its files (fetched by each node's releases step, which each upgrade step waits for).</summary>
    public required NodeReleases Releases { get; init; }

    /// <summary>Every node with a kubelet in rolling order: the init node, the other control-plane nodes, then workers.</summary>
    public required IReadOnlyList<(ClusterNode Node, Resource Joined)> Nodes { get; init; }

    /// <summary>Drain and uncordon workers (which hold no admin credential): without a balancer, the first of them does.</summary>
    public required IReadOnlyList<ClusterNode> ControlPlaneNodes { get; init; }

    /// <summary>The API load balancer, if there is one: workers are drained and uncordoned through its SSH relay, on any live control-plane node.</summary>
    public ApiLoadBalancer? Relay { get; init; }

    /// <summary>lostNodes: dead droplets, passed by (their steps run nothing); the first live control-plane node upgrades the cluster.</summary>
    public IReadOnlySet<string> Lost { get; init; } = new HashSet<string>();
}

/// <summary>
/// The upgrade step of every node, chained by dependsOn in rolling order. Creating one runs
/// nothing and connects nowhere (the releases step installed the version), so the chain costs nothing
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
        var lost = (ClusterNode node) => args.Lost.Contains(node.Spec.Name);
        // kubeadm upgrade apply runs once, on the first live control-plane node; the others run
        // upgrade node. A lost node's droplet made anew installs the version it joins with.
        var applyOn = args.Nodes.Select(n => n.Node).FirstOrDefault(n => n.Spec.IsControlPlane && !lost(n));
        // Any live control-plane node drains and uncordons a worker (the mark of the drain is on
        // its Node: worker-drain.sh); without a balancer, the first live one.
        var janitor = args.ControlPlaneNodes.FirstOrDefault(n => !lost(n)) ?? args.ControlPlaneNodes[0];
        var via = args.Relay?.RelayConnection(janitor.Connection);
        var steps = new StepChain();
        Remote.Command Chain(string stepName, ClusterNode node, Resource joined, Input<string> script, bool onJanitor = false) =>
            steps.Add(RemoteStep.Create(stepName, node, new RemoteStepArgs
            {
                Create = null,
                // A lost node's steps keep their places in the chain and run nothing: the roll
                // goes on past a dead droplet.
                Update = lost(node) ? null : script,
                RunsNothing = lost(node),
                // The node's releases step runs again for the new version at once, filling its cache.
                DependsOn = steps.After(node.Releases is { } releases ? [joined, releases] : [joined]),
                RunOn = onJanitor ? janitor : null,
                RunVia = onJanitor ? via : null,
            }, parent: this));
        foreach (var (node, joined) in args.Nodes)
        {
            var version = args.Releases.Kubernetes;
            var nodeName = node.Spec.Name;
            if (node.Spec.IsControlPlane)
            {
                // It drains and uncordons itself with its own admin.conf: no credential in the step.
                Chain($"{name}-{nodeName}", node, joined, Render.StepScript(
                    ("node-upgrade", Render.NodeUpgrade(nodeName, args.Releases, first: node == applyOn, "/etc/kubernetes/admin.conf", lost: node == applyOn ? [.. args.Lost] : null))));
            }
            else
            {
                // A worker holds no admin credential: a control-plane node drains it before its
                // step and uncordons it after.
                Chain($"{name}-{nodeName}.drain", node, joined, Render.StepScript(($"drain-{nodeName}", Render.WorkerDrain(nodeName, version, drain: true))), onJanitor: true);
                Chain($"{name}-{nodeName}", node, joined, Render.StepScript(("node-upgrade", Render.NodeUpgrade(nodeName, args.Releases, first: false, kubeconfigFile: null))));
                Chain($"{name}-{nodeName}.uncordon", node, joined, Render.StepScript(($"uncordon-{nodeName}", Render.WorkerDrain(nodeName, version, drain: false))), onJanitor: true);
            }
        }
        Steps = steps.Steps;
        RegisterOutputs(new Dictionary<string, object?> { ["order"] = order });
    }

    public IReadOnlyList<Remote.Command> Steps { get; }
}
