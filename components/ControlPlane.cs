using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class ControlPlaneArgs
{
    public required ClusterSettings Settings { get; init; }

    /// <summary>The control-plane nodes in inventory order; the first may create the cluster.</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }
    public required EtcdCluster Etcd { get; init; }
    /// <summary>The CAs and credentials, and the keys the API servers encrypt Secrets with.</summary>
    public required ClusterPki Pki { get; init; }

    /// <summary>A node joins only after the machine it replaces has left.</summary>
    public required NodeDepartures Departures { get; init; }

    /// <summary>apiServer.certSANs: the API server certificates' names beside each node's own (Render.ApiServerCertSans).</summary>
    public required Output<IReadOnlyList<string>> CertSans { get; init; }

    /// <summary>Each node's packages and local API proxy: init and joins go through it (the controlPlaneEndpoint).</summary>
    public required KubernetesNodeSetup Setup { get; init; }

    /// <summary>
    /// The API load balancer, if there is one: a joining node's token is minted through its SSH
    /// relay, on whichever control-plane node is live, so a node joins while any lives.
    /// </summary>
    public ApiLoadBalancer? Relay { get; init; }

    /// <summary>A node's own release where it differs (lostNodes: a dead droplet keeps the one its steps last had).</summary>
    public Func<ClusterNode, KubernetesVersion>? VersionOf { get; init; }
}

/// <summary>
/// kubeadm on the control-plane nodes. The first node of the inventory runs `kubeadm init` if no
/// cluster exists; the others join as soon as it is done, all at once: with external etcd a
/// control-plane join adds no etcd member, and with the program's own certificates it uploads
/// none, so nothing in a join races another (kubeadm's one-at-a-time advice is for stacked etcd).
/// </summary>
public sealed class ControlPlane : ComponentResource
{
    public ControlPlane(string name, ControlPlaneArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ControlPlane", name, options)
    {
        var settings = args.Settings;
        var cluster = Output.Tuple(args.Etcd.ClientEndpoints, args.CertSans).Apply(t => new KubeadmClusterInput(
            settings.ClusterName,
            settings.KubernetesVersion,
            settings.PodCidr,
            settings.ServiceCidr,
            t.Item1,
            t.Item2,
            settings.NodeCidrMaskSize,
            settings.Hardening.AuditLog));
        LocalAdminKubeconfig = args.Pki.Material.Apply(p => Render.Kubeconfig(settings.ClusterName, $"https://{Ports.ApiProxyListen}", p.CaCert, p.AdminCert, p.AdminKey));

        Remote.Command? init = null;
        var steps = new List<Remote.Command>();
        var credentialSteps = new StepChain();
        var tokens = new List<JoinToken>();
        // The operator has said every control-plane node is gone (lostNodes, docs/backups.md).
        var peersLost = settings.ControlPlaneNodes.All(n => settings.LostNodes.Contains(n.Name));
        foreach (var node in args.Nodes)
        {
            var mayInit = node.Spec.Name == settings.InitNode.Name;
            // The first node's token is minted on the first other live control-plane node, before
            // the cluster exists, and is empty then (it creates the cluster); when it is replaced
            // later its token comes from that peer. The others' are minted once the cluster
            // exists, through the balancer's relay on any live control-plane node: kubeadm init
            // returns once its API server is healthy, and the balancer admits it after two passing
            // checks 3 s apart (ApiLoadBalancer), well within the dials' minute of retries.
            // Without a balancer, on that peer.
            // A lone control-plane node needs none.
            var mintOn = args.Nodes.FirstOrDefault(n => n != node && !settings.IsLost(n.Spec)) ?? args.Nodes.FirstOrDefault(n => n != node);
            var via = mayInit || mintOn is null ? null : args.Relay?.RelayConnection(mintOn.Connection);
            var token = mintOn is null ? null : new JoinToken($"{name}-{node.Spec.Name}", node, mintOn, mayInit ? [mintOn.Ready] : [init!], this, via, mayPrecedeCluster: mayInit);
            // What renews or rotates (the etcd client and admin certificates, the Secrets
            // encryption keys) is installed by a step of its own, one node after another: a
            // renewal runs these again in turn, and none of kubeadm's steps (which would all run
            // at once). A file that breaks a node stops the roll there.
            var credentials = credentialSteps.Add(RemoteStep.Create($"{name}-{node.Spec.Name}.credentials", node, new RemoteStepArgs
            {
                Create = Output.Tuple(args.Pki.Material, LocalAdminKubeconfig, args.Pki.SecretsEncryptionKeys).Apply(t => Render.SecretStepScript(
                    ("control-plane-pki", Render.ControlPlanePki(t.Item1, t.Item2)),
                    ("apiserver-config", Render.ApiServerConfig(settings.Hardening, t.Item3)))),
                DependsOn = credentialSteps.After(node.Ready, args.Departures.Kubernetes(node)),
            }, parent: this));

            var version = args.VersionOf?.Invoke(node);
            var create = Output.Tuple(cluster, node.Address, args.Pki.Material.Apply(p => p.CaCertHash), token?.Token ?? Output.Create("")).Apply(t =>
            {
                var (c, self, caCertHash, joinToken) = t;
                c = version is null ? c : c with { Version = version };
                return Render.SecretStepScript(
                    // The API server cannot start without etcd: check it first, with its own client certificate.
                    ("etcd-health", Render.EtcdHealth(c.EtcdEndpoints, requireAll: false, timeoutSeconds: 300)),
                    ("control-plane", Render.ControlPlaneScript(c, self, mayInit, node.Spec.IsWorker, joinToken, caCertHash, peersLost: peersLost)));
            });
            List<Resource> dependsOn = mayInit
                ? [node.Ready, args.Setup.For(node), .. args.Setup.BeforeKubelet(node), args.Departures.Kubernetes(node), credentials, .. args.Etcd.Members]
                : [node.Ready, args.Setup.For(node), .. args.Setup.BeforeKubelet(node), args.Departures.Kubernetes(node), credentials, .. args.Etcd.Members, init!];
            if (token is not null)
            {
                dependsOn.Add(token.Mint);
            }
            var step = RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = create,
                DependsOn = dependsOn,
            }, parent: this);
            token?.DeleteAfter(step);
            if (mayInit)
            {
                init = step;
            }
            steps.Add(step);
        }

        Init = init!;
        Steps = steps;
        CredentialSteps = credentialSteps.Steps;
        RegisterOutputs(new Dictionary<string, object?> { ["initNode"] = settings.InitNode.Name });
    }

    /// <summary>The step that creates the cluster; when it is done the API answers.</summary>
    public Remote.Command Init { get; }

    /// <summary>Every control-plane node's kubeadm step, the init step first.</summary>
    public IReadOnlyList<Remote.Command> Steps { get; }

    /// <summary>Each control-plane node's credentials and API server files, installed one node after another.</summary>
    public IReadOnlyList<Remote.Command> CredentialSteps { get; }

    /// <summary>Secret: the admin kubeconfig for use on the nodes (server: the local API proxy).</summary>
    public Output<string> LocalAdminKubeconfig { get; }
}
