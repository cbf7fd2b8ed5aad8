using System.Collections.Immutable;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class HealthGateArgs
{
    /// <summary>A control-plane node: it has kubectl, admin.conf and an etcd client certificate.</summary>
    public required ClusterNode Node { get; init; }

    /// <summary>The balancer's SSH relay, if there is one: the gate runs on whichever control-plane node is live.</summary>
    public Pulumi.Command.Remote.Inputs.ConnectionArgs? RunVia { get; init; }

    /// <summary>lostNodes: dead droplets, not waited for (their etcd members are not asked either).</summary>
    public IReadOnlySet<string> Lost { get; init; } = new HashSet<string>();

    /// <summary>Every node that runs a kubelet: each must be Ready.</summary>
    public required IReadOnlyList<string> KubernetesNodes { get; init; }
    public required Output<ImmutableArray<string>> EtcdEndpoints { get; init; }

    /// <summary>The endpoints of members on lostNodes: they may be down.</summary>
    public Output<ImmutableArray<string>> LostEtcdEndpoints { get; init; } = Output.Create(ImmutableArray<string>.Empty);

    /// <summary>Everything `pulumi up` builds; the gate runs after all of it.</summary>
    public required IReadOnlyList<Resource> After { get; init; }

    /// <summary>Every node's droplet: a replaced one runs the gate again.</summary>
    public required IReadOnlyList<ClusterNode> Nodes { get; init; }

    /// <summary>A new version runs the gate again, after the rolling upgrade.</summary>
    public required string KubernetesVersion { get; init; }

    /// <summary>Changes when the program renews a certificate (ClusterPki.Renewals).</summary>
    public required Input<object> CertificatesRenewed { get; init; }

    /// <summary>The DNS add-ons that run, each judged too.</summary>
    public required AddonSettings Addons { get; init; }

    /// <summary>The snapshot schedule: the gate fails when etcd's newest snapshot is older than twice it.</summary>
    public required int SnapshotEveryHours { get; init; }
}

/// <summary>
/// The last step of every `pulumi up`: etcd healthy with every member, all nodes Ready, CoreDNS
/// available, the DNS autoscaler and NodeLocal DNSCache ready when they run, and the scheduler and controller-manager leases held; certificates that expire
/// within 30 days are reported. If not, the update fails
/// with what is wrong and how to look, instead of reporting a cluster that is not there.
/// </summary>
public sealed class HealthGate : ComponentResource
{
    public HealthGate(string name, HealthGateArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:HealthGate", name, options)
    {
        Check = RemoteStep.Create($"{name}-check", args.Node, new RemoteStepArgs
        {
            Create = Output.Tuple(args.EtcdEndpoints, args.LostEtcdEndpoints).Apply(t => (Endpoints: t.Item1, Lost: t.Item2)).Apply(e => Render.StepScript(
                ("etcd-health-all", Render.EtcdHealth(e.Endpoints, requireAll: true, timeoutSeconds: 300, lost: e.Lost)),
                ("cluster-health", Render.ClusterHealth(args.KubernetesNodes, timeoutSeconds: 900, args.Addons.DnsAutoscaler, args.Addons.NodeLocalDns, [.. args.Lost])),
                ("etcd-snapshot-age", Render.EtcdSnapshotAge(e.Endpoints, args.SnapshotEveryHours)),
                ("cert-expiry", Render.CertExpiry(warnDays: 30)))),
            DependsOn = args.After,
            RunVia = args.RunVia,
            // The gate runs again when what it judges changes: the nodes and their names (in the
            // script), the etcd members (in the script), a droplet replaced, a new version. An
            // unchanged stack gets an empty diff, so `pulumi preview --expect-no-changes` and saved
            // plans work; to check on demand, see docs/day-2.md "Check the cluster's health".
            // A renewed certificate too: the gate then reports what is still close to expiry. And a
            // resized droplet, back with the same id: the update ends when its services are back
            // (the gate waits for every etcd member and node), so the next one's roll finds them up.
            Triggers = [.. args.Nodes.Select(n => n.DropletTrigger), .. args.Nodes.Select(n => n.SizeTrigger), (Input<object>)args.KubernetesVersion, args.CertificatesRenewed],
        }, parent: this);

        // stdout is kept secret like every step's; the leaders' names are not.
        SchedulerLeader = Output.Unsecret(Check.Stdout.Apply(s => Field(s, "scheduler-leader")));
        ControllerManagerLeader = Output.Unsecret(Check.Stdout.Apply(s => Field(s, "controller-manager-leader")));
        RegisterOutputs(new Dictionary<string, object?>
        {
            ["schedulerLeader"] = SchedulerLeader,
            ["controllerManagerLeader"] = ControllerManagerLeader,
        });
    }

    public Remote.Command Check { get; }

    /// <summary>The node whose kube-scheduler holds the lease.</summary>
    public Output<string> SchedulerLeader { get; }

    /// <summary>The node whose kube-controller-manager holds the lease.</summary>
    public Output<string> ControllerManagerLeader { get; }

    internal static string Field(string stdout, string key) =>
        stdout.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..] ?? "";
}
