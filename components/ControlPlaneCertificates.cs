using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;
using Tls = Pulumi.Tls;

namespace DoK8sHa.Components;

public sealed class ControlPlaneCertificatesArgs
{
    /// <summary>The control-plane nodes, in inventory order: the order the renewal rolls in.</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>Every step that makes or upgrades a node's control plane: the renewal runs after them.</summary>
    public required IReadOnlyList<Resource> After { get; init; }

    /// <summary>lostNodes: a dead droplet's renewal runs nothing until it is back.</summary>
    public IReadOnlySet<string> Lost { get; init; } = new HashSet<string>();
}

/// <summary>
/// kubeadm's own one-year certificates on every control-plane node (the API server's, the
/// controller-manager's and scheduler's kubeconfigs), which kubeadm renews only on an upgrade,
/// renewed on a `pulumi up` in their last 60 days, one node after another. Each node has a
/// renewal clock: a self-signed certificate of kubeadm's lifetime that the TLS provider renews in
/// its last 60 days (EarlyRenewalHours, as the program's own certificates), made before the node's
/// kubeadm certificates and so ending no later than them. When it renews, the node's step renews
/// every kubeadm certificate that ends before the clock's new end: after that each ends after it
/// again (a renewal or an upgrade only moves an end later). No clock is read in the program, so
/// an unchanged stack previews no change.
/// </summary>
public sealed class ControlPlaneCertificates : ComponentResource
{
    /// <summary>kubeadm's certificate lifetime (cmd/kubeadm/app/constants: CertificateValidityPeriod, a year).</summary>
    public const int KubeadmValidityHours = 365 * 24;

    public ControlPlaneCertificates(string name, ControlPlaneCertificatesArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ControlPlaneCertificates", name, options)
    {
        // The clocks' key signs nothing but the clocks.
        var clockKey = new Tls.PrivateKey($"{name}-clock-key", new Tls.PrivateKeyArgs { Algorithm = "RSA", RsaBits = 2048 },
            new CustomResourceOptions { Parent = this });
        var chain = new StepChain();
        var ends = new Dictionary<string, Output<string>>();
        foreach (var node in args.Nodes)
        {
            var clock = new Tls.SelfSignedCert($"{name}-{node.Spec.Name}.clock", new Tls.SelfSignedCertArgs
            {
                PrivateKeyPem = clockKey.PrivateKeyPem,
                Subject = new Tls.Inputs.SelfSignedCertSubjectArgs { CommonName = $"do-k8s-ha renewal clock of {node.Spec.Name}" },
                ValidityPeriodHours = KubeadmValidityHours,
                EarlyRenewalHours = ClusterPki.RenewalWindowHours,
                AllowedUses = { "digital_signature" },
            }, new CustomResourceOptions { Parent = this });
            var lost = args.Lost.Contains(node.Spec.Name);
            var step = chain.Add(RemoteStep.Create($"{name}-{node.Spec.Name}", node, new RemoteStepArgs
            {
                Create = lost ? null : (Input<string>)clock.ValidityEndTime.Apply(end => Render.StepScript(("kubeadm-certs", Render.KubeadmCerts(node.Spec.Name, end)))),
                RunsNothing = lost,
                DependsOn = chain.After([.. args.After]),
            }, parent: this));
            // stdout is kept secret like every step's; the dates are not.
            ends[node.Spec.Name] = Output.Unsecret(step.Stdout.Apply(s => HealthGate.Field(s, "kubeadm-certificates-end")));
        }
        Steps = chain.Steps;
        Ends = ends;
        RegisterOutputs(new Dictionary<string, object?> { ["ends"] = Output.All(ends.Values).Apply(v => string.Join(",", v)) });
    }

    public IReadOnlyList<Remote.Command> Steps { get; }

    /// <summary>By node: when its first kubeadm certificate ends, as its step last found it.</summary>
    public IReadOnlyDictionary<string, Output<string>> Ends { get; }
}
