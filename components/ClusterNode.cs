using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using DO = Pulumi.DigitalOcean;
using Remote = Pulumi.Command.Remote;
using Tls = Pulumi.Tls;

namespace DoK8sHa.Components;

public sealed class ClusterNodeArgs
{
    public required NodeSpec Spec { get; init; }
    public required ClusterSettings Settings { get; init; }
    public required ClusterNetwork Network { get; init; }
    public required Output<string> SshPrivateKey { get; init; }

    /// <summary>
    /// The droplet keeps the image, size, user data and SSH key it has, whatever the config says
    /// now: one node of a roll at a time takes a change that replaces or powers off its droplet
    /// (MachineRoll). False for a new node and for the node this update rolls.
    /// </summary>
    public bool KeepMachine { get; init; }

    /// <summary>The node as the last successful update recorded it (null: a new node).</summary>
    public PreviousNode? Previous { get; init; }

    /// <summary>lostNodes lists it: no new step may dial its droplet.</summary>
    public bool Lost { get; init; }

    /// <summary>
    /// What the node's bootstrap wait (and every step after it) comes after, besides its droplet:
    /// a pure worker's, the control plane's init (see ClusterProgram).
    /// </summary>
    public Output<string>? BootstrapAfter { get; init; }
}

/// <summary>
/// One droplet of the inventory, booted by cloud-init, and the first remote step on it: waiting
/// until cloud-init is done. Every later step on this node starts from <see cref="Ready"/>.
/// </summary>
public sealed class ClusterNode : ComponentResource
{
    public ClusterNode(string name, ClusterNodeArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterNode", name, options)
    {
        Spec = args.Spec;
        var settings = args.Settings;
        var network = args.Network;

        var tags = new InputList<string> { network.ClusterTag };
        foreach (var (role, tag) in network.RoleTags)
        {
            if (Spec.Roles.HasFlag(role))
            {
                tags.Add(tag);
            }
        }

        // The droplet's first SSH host key, made here and installed by cloud-init, so the first
        // connections pin it: pulumi-command trusts any host key unless told one
        // (remote/connection.go). ECDSA P-256: what both the TLS provider and cloud-init handle,
        // and every sshd serves. It is in the state and the user data, and a replaced droplet
        // boots with it again, so the steps that carry secrets pin the key the droplet then makes
        // for itself (HostKeyStep).
        HostKey = new Tls.PrivateKey($"{name}.ssh-host-key", new Tls.PrivateKeyArgs
        {
            Algorithm = "ECDSA",
            EcdsaCurve = "P256",
        }, new CustomResourceOptions { Parent = this });

        Droplet = new DO.Droplet(name, new DO.DropletArgs
        {
            Name = Spec.Name,
            Region = settings.Region,
            Size = Spec.Size,
            Image = settings.Image,
            VpcUuid = network.VpcId,
            SshKeys = { network.SshKeyFingerprint },
            Tags = tags,
            // The same for every role and version: a replaced droplet boots it and the remote steps
            // bring the current version and roles (nothing here may need ignoreChanges). Secret:
            // it carries the host key. (The droplet's metadata service serves user data to
            // processes on the node itself; the key is the node's own and nothing else is in it.)
            UserData = Output.CreateSecret(Output.Tuple(HostKey.PrivateKeyOpenssh, HostKey.PublicKeyOpenssh)
                .Apply(key => Render.NodeUserData(key.Item1, key.Item2))),
            Monitoring = true,
        }, new CustomResourceOptions
        {
            Parent = this,
            // The tags are the node's roles: a node that changes roles is rebuilt with its new ones.
            ReplaceOnChanges = { "tags" },
            // A replaced node leaves the cluster (NodeDepartures, run on other nodes) before the new one joins.
            DeleteBeforeReplace = true,
            // Each of these replaces the droplet (ForceNew in terraform-provider-digitalocean
            // droplet/resource_droplet.go; size resizes it powered off): a change reaches one node
            // per update, the rest keep theirs. User data and the account key matter only at a
            // droplet's first boot, so a release or key that changes them replaces nothing; the
            // engine keeps an ignored input even when it replaces the droplet for another reason
            // (pulumi step_generator.go, processIgnoreChanges), so a rolled node takes them all.
            IgnoreChanges = args.KeepMachine ? [.. KeptInputs] : [],
        });

        PublicIp = Droplet.Ipv4Address;
        PrivateIp = Droplet.Ipv4AddressPrivate;
        Address = PrivateIp.Apply(ip => new NodeAddress(Spec.Name, ip));
        ConnectionArgs Connect(int dialErrorLimit, Input<string> hostKey) => new()
        {
            Host = PublicIp,
            User = settings.SshUser,
            PrivateKey = args.SshPrivateKey,
            HostKey = hostKey,
            DialErrorLimit = dialErrorLimit,
            PerDialTimeout = SshDial.PerDialTimeoutSeconds,
        };
        // A live node answers at once: a few retries ride out a dropped packet, not a dead node.
        var liveNode = SshDial.ErrorLimitFor(TimeSpan.FromMinutes(1));

        // The release files, fetched as soon as sshd answers, beside cloud-init (Kubespray's
        // download model; releases.sh), by a unit the step starts and does not wait for
        // (releases-start.sh; the pod network's images last): node setup and each upgrade step
        // wait for it. The step pins the user data's key, served for good beside the droplet's own
        // (host-key.sh), so its connection never changes and it starts before the host key step.
        // It carries no secret. A kubernetesVersion change runs it again on every
        // node at once: a joined node only fills its cache, for its turn in the rolling upgrade.
        // A lost node keeps the release its steps last had, and its downloads keep the very script
        // they ran (KeepsScript: a new one, the release's checksums given anew or a template
        // changed, would run again on a droplet no step reaches); a droplet made anew in its place
        // runs it. A lost node whose step this update would add (an earlier release of the program
        // made it) runs nothing.
        var nodeReleases = settings.NodeReleases;
        if (args.Lost && args.Previous?.KubernetesVersion is { } kept && KubernetesVersion.TryParse(kept, out var keptVersion) && keptVersion != nodeReleases.Kubernetes)
        {
            nodeReleases = ReleaseTable.For(keptVersion)!;
        }
        var downloadsRunNothing = args.Lost && (args.Previous is not { HasDownloads: true } || nodeReleases is null);
        if (Spec.IsKubernetesNode)
        {
            Releases = RemoteStep.Create($"{name}.releases", this, new RemoteStepArgs
            {
                Create = downloadsRunNothing ? null : (Input<string>)Render.StepScript(("releases",
                    Render.ReleasesStart(nodeReleases!, Spec.IsControlPlane, Render.CalicoNodeImages(settings.Addons.CalicoVersion)))),
                RunsNothing = downloadsRunNothing,
                KeepsScript = args.Lost,
                RunVia = Connect(SshDial.ErrorLimitFor(SshStartTimeout), HostKey.PublicKeyOpenssh),
            });
        }

        // "." never occurs in a node name (a DNS label): "<node>.<what>" cannot be another
        // resource's "<prefix>-<node>" (the engine refuses two resources of one type and name).
        // Its dials wait for sshd, which starts a while after the droplet reports active: no
        // local probe (none would run on every operator's machine), pulumi-command's own retries.
        // It holds an engine slot (--parallel) for as long as cloud-init runs: a pure worker's
        // comes after the control plane's init (BootstrapAfter), when cloud-init has long ended,
        // so that a hundred workers' waits do not hold the slots the control plane waits for.
        var waitForBootstrap = Render.StepScript(("wait-for-bootstrap", Render.WaitForBootstrap()));
        Ready = RemoteStep.Create($"{name}.bootstrapped", this, new RemoteStepArgs
        {
            FormerNames = [$"{name}-bootstrapped"],
            Create = args.BootstrapAfter is { } after ? after.Apply(_ => waitForBootstrap) : waitForBootstrap,
            RunVia = Connect(SshDial.ErrorLimitFor(SshStartTimeout), HostKey.PublicKeyOpenssh),
        });

        // A droplet made before this release keeps its user data's key pinned: a new pin would
        // run every step on it again (pulumi-command runs a step whose connection changed,
        // remote/commandController.go, Update). Judged by its droplet id, so the same node on a
        // new droplet (a roll, `pulumi up --replace`) makes its own. Inside an Apply on the id: a
        // kept droplet's pin is known in a preview, so its steps preview unchanged.
        var previous = args.Previous;
        HostKeyMadeHere = Droplet.Id.Apply(id => !(previous is { HostKeyMadeHere: false } && (previous.DropletId is null || previous.DropletId == id)));
        // A lost node's step dials nothing: one this release adds to a dead droplet that keeps its
        // user data's key would never answer; one that ran before keeps its output (an update
        // with nothing to run keeps the previous stdout, remote/commandController.go).
        var lostKeepsUserDataKey = args.Lost && previous is { HostKeyMadeHere: false };
        HostKeyStep = RemoteStep.Create($"{name}.host-key", this, new RemoteStepArgs
        {
            Create = lostKeepsUserDataKey ? null : (Input<string>)HostKeyMadeHere.Apply(made => Render.StepScript(("host-key", Render.HostKey(made)))),
            RunsNothing = lostKeepsUserDataKey,
            DependsOn = [Ready],
            RunVia = Connect(liveNode, HostKey.PublicKeyOpenssh),
        });
        // A public key: no secret, though every step's stdout is kept as one (RemoteStep).
        PinnedHostKey = HostKeyMadeHere.Apply(made => made
            ? Output.Unsecret(HostKeyStep.Stdout.Apply(stdout => Render.ParseHostKey(stdout)
                ?? throw new InvalidOperationException($"{name}.host-key printed no host key to pin")))
            : HostKey.PublicKeyOpenssh);
        Connection = Connect(liveNode, PinnedHostKey);

        RegisterOutputs(new Dictionary<string, object?>
        {
            ["publicIp"] = PublicIp,
            ["privateIp"] = PrivateIp,
        });
    }

    /// <summary>The droplet inputs a kept node does not take from the config.</summary>
    public static IReadOnlyList<string> KeptInputs { get; } = ["image", "size", "userData", "sshKeys"];

    public NodeSpec Spec { get; }

    /// <summary>The droplet's first SSH host key: installed at first boot, pinned by the steps before <see cref="HostKeyStep"/>.</summary>
    public Tls.PrivateKey HostKey { get; }

    /// <summary>Makes the droplet's own host key (or, on a droplet made before, keeps its first) and prints it.</summary>
    public Remote.Command HostKeyStep { get; }

    /// <summary>Whether the droplet serves a key it made itself (false: its user data's, a droplet made before).</summary>
    public Output<bool> HostKeyMadeHere { get; }

    /// <summary>The host key every step after <see cref="HostKeyStep"/> pins, as an authorized_keys line.</summary>
    public Output<string> PinnedHostKey { get; }
    public DO.Droplet Droplet { get; }

    /// <summary>The droplet's id as a trigger: a step with it runs again on a new droplet.</summary>
    public Input<object> DropletTrigger => Droplet.Id.Apply(id => (object)id);

    /// <summary>
    /// The droplet's size as a trigger: DigitalOcean resizes a droplet powered off and starts it
    /// again with the same id, so only a step with this runs again after a resize.
    /// </summary>
    public Input<object> SizeTrigger => Droplet.Size.Apply(size => (object)size);
    public Output<string> PublicIp { get; }
    public Output<string> PrivateIp { get; }
    public Output<NodeAddress> Address { get; }
    public ConnectionArgs Connection { get; }

    /// <summary>How long a new droplet may take to answer SSH after it reports active.</summary>
    public static TimeSpan SshStartTimeout => TimeSpan.FromMinutes(6);

    /// <summary>cloud-init finished: packages are installed and the node can take remote steps.</summary>
    public Remote.Command Ready { get; }

    /// <summary>
    /// A Kubernetes node's downloads, started: the step writes their unit and starts it without
    /// waiting (node setup and each upgrade step wait for it); null on an etcd-only node.
    /// </summary>
    public Remote.Command? Releases { get; }

}
