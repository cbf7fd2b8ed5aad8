using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class KubernetesNodeSetupArgs
{
    /// <summary>Every node that runs a kubelet, control-plane nodes included.</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>Every control-plane node: the upstreams of each node's API proxy.</summary>
    public required IReadOnlyList<ClusterNode> ControlPlaneNodes { get; init; }

    /// <summary>lostNodes: a dead droplet's new steps run nothing (its existing ones keep what they ran).</summary>
    public IReadOnlySet<string> Lost { get; init; } = new HashSet<string>();

    /// <summary>What the steps wait for besides their node: the cluster's creation, for workers.</summary>
    public IReadOnlyList<Resource> After { get; init; } = [];

    /// <summary>Issues each node's kubelet serving certificate (ClusterPkiArgs.KubeletNodes lists every node here).</summary>
    public required ClusterPki Pki { get; init; }

    /// <summary>
    /// Control-plane nodes: their kubelet serving steps run one after another, so a kubelet that a
    /// new drop-in kept from starting stops the update at the first node. Workers' run at once.
    /// </summary>
    public bool OneAtATime { get; init; }
}

/// <summary>
/// What every Kubernetes node needs before it joins, besides its release files (ClusterNode's
/// releases step: kubeadm, kubelet, kubectl and containerd of the cluster's version), in one step
/// per node: the local API proxy (nginx on 127.0.0.1:6444 over every API server), which is also
/// the cluster's controlPlaneEndpoint.
/// kubeadm's token discovery tells a joining node to use cluster-info's server from then on, so
/// the proxy runs on it before it joins, control-plane nodes included; afterwards its kubelet and
/// kube-proxy depend on no single API server. A change of control-plane nodes rewrites every
/// proxy's upstreams.
/// Control-plane nodes and workers each have one (the workers' waits for the cluster, see
/// ClusterProgram); their steps are named alike, <see cref="StepPrefix"/>-node, and a URN names
/// its parent's type only, so a step keeps its URN whichever of the two it is in.
/// </summary>
public sealed class KubernetesNodeSetup : ComponentResource
{
    private readonly Dictionary<string, Remote.Command> _byNode = [];
    private readonly Dictionary<string, Remote.Command> _guards = [];
    private readonly Dictionary<string, Remote.Command> _serving = [];

    public KubernetesNodeSetup(string name, KubernetesNodeSetupArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:KubernetesNodeSetup", name, options)
    {
        var apiServers = Output.All(args.ControlPlaneNodes.Select(n => n.Address));
        var serving = new StepChain();
        foreach (var node in args.Nodes)
        {
            // The node's own serving certificate and the drop-in that serves it, before its kubelet
            // starts (the join waits for it); on a joined node it ends when the kubelet serves it.
            var lost = args.Lost.Contains(node.Spec.Name);
            Resource[] servingAfter = [node.Ready, .. args.After];
            var servingStep = RemoteStep.Create($"{KubeletServingPrefix}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = lost ? null : (Input<string>)Output.Tuple(node.Address, args.Pki.KubeletServing(node.Spec.Name))
                    .Apply(t => Render.SecretStepScript(("kubelet-serving", Render.KubeletServing(t.Item1, t.Item2)))),
                RunsNothing = lost,
                DependsOn = args.OneAtATime ? serving.After(servingAfter) : servingAfter,
            }, parent: this);
            if (args.OneAtATime)
            {
                serving.Add(servingStep);
            }
            _serving[node.Spec.Name] = servingStep;

            // Beside the setup, and before the node's kubelet can run a pod (the join waits for
            // both); on a node that already runs pods, at once (loading the rules takes nothing
            // down). A worker's waits for the cluster, as its setup does (see ClusterProgram).
            var metadataGuard = RemoteStep.Create($"{MetadataGuardPrefix}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = args.Lost.Contains(node.Spec.Name) ? null : (Input<string>)Render.StepScript(("metadata-guard", Render.MetadataGuard())),
                RunsNothing = args.Lost.Contains(node.Spec.Name),
                DependsOn = [node.Ready, .. args.After],
            }, parent: this);
            _guards[node.Spec.Name] = metadataGuard;
            // After cloud-init (nginx is its package) and the node's release files (kubeadm,
            // kubelet, containerd installed and started, the images pulled: <node>.releases).
            _byNode[node.Spec.Name] = RemoteStep.Create($"{StepPrefix}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = apiServers.Apply(servers => Render.StepScript(("api-proxy", Render.ApiProxy(node.Spec.Name, servers)))),
                DependsOn = [node.Ready, node.Releases!, .. args.After],
            }, parent: this);
        }
        RegisterOutputs(new Dictionary<string, object?> { ["apiProxy"] = Ports.ApiProxyListen });
    }

    public const string StepPrefix = "node-setup";

    /// <summary>The step that keeps the node's pods off the droplet metadata service.</summary>
    public const string MetadataGuardPrefix = "metadata-guard";

    /// <summary>The step that installs a node's kubelet serving certificate.</summary>
    public const string KubeletServingPrefix = "kubelet-serving";

    /// <summary>What a node's kubelet must not start before: the metadata guard and its serving certificate.</summary>
    public IReadOnlyList<Resource> BeforeKubelet(ClusterNode node) => [_guards[node.Spec.Name], _serving[node.Spec.Name]];

    /// <summary>Every node's kubelet serving step.</summary>
    public IReadOnlyCollection<Remote.Command> KubeletServingSteps => _serving.Values;

    /// <summary>The setup step of a Kubernetes node: after it, the node can join.</summary>
    public Remote.Command For(ClusterNode node) => _byNode[node.Spec.Name];

    public IReadOnlyCollection<Remote.Command> Steps => _byNode.Values;
}
