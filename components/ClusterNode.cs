using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using DO = Pulumi.DigitalOcean;
using Local = Pulumi.Command.Local;
using Remote = Pulumi.Command.Remote;
using Tls = Pulumi.Tls;

namespace DoK8sHa.Components;

public sealed class ClusterNodeArgs
{
    public required NodeSpec Spec { get; init; }
    public required ClusterSettings Settings { get; init; }
    public required ClusterNetwork Network { get; init; }
    public required Output<string> SshPrivateKey { get; init; }

    /// <summary>What must succeed before the droplet is created or changed (the version guard).</summary>
    public IReadOnlyList<Resource> Prerequisites { get; init; } = [];
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

        // The node's own SSH host key, made here and installed by cloud-init, so every connection
        // pins it: pulumi-command trusts any host key unless told one (remote/connection.go).
        // ECDSA P-256: what both the TLS provider and cloud-init handle, and every sshd serves.
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
            DependsOn = args.Prerequisites.ToList(),
        });

        PublicIp = Droplet.Ipv4Address;
        PrivateIp = Droplet.Ipv4AddressPrivate;
        Address = PrivateIp.Apply(ip => new NodeAddress(Spec.Name, ip));
        Connection = new ConnectionArgs
        {
            Host = PublicIp,
            User = settings.SshUser,
            PrivateKey = args.SshPrivateKey,
            HostKey = HostKey.PublicKeyOpenssh,
            // SSH comes up shortly after the droplet is active; SshReachable below waits for it.
            DialErrorLimit = 20,
            PerDialTimeout = 15,
        };

        // pulumi-command backs off between dials (100 ms × 1.5, at most 5 s: DialErrorLimit 20 is
        // about a minute), less than a fresh droplet may take to start sshd: wait for it here first.
        SshReachable = new Local.Command($"{name}-ssh-reachable", new Local.CommandArgs
        {
            Create = PublicIp.Apply(ip =>
                $"for _ in $(seq 1 120); do if timeout 3 bash -c '</dev/tcp/{ip}/22' 2>/dev/null; then exit 0; fi; sleep 2; done; " +
                $"echo 'sshd on {Spec.Name} ({ip}) did not answer within 6 minutes' >&2; exit 1"),
            Interpreter = { "/bin/bash", "-c" },
        }, new CustomResourceOptions { Parent = this, DeleteBeforeReplace = true });

        // "." never occurs in a node name (a DNS label): "<node>.<what>" cannot be another
        // resource's "<prefix>-<node>" (the engine refuses two resources of one type and name).
        Ready = RemoteStep.Create($"{name}.bootstrapped", this, new RemoteStepArgs
        {
            FormerNames = [$"{name}-bootstrapped"],
            Create = Render.RemoteStep(("wait-for-bootstrap", Render.WaitForBootstrap())),
            DependsOn = [SshReachable],
        });

        RegisterOutputs(new Dictionary<string, object?>
        {
            ["publicIp"] = PublicIp,
            ["privateIp"] = PrivateIp,
        });
    }

    public NodeSpec Spec { get; }

    /// <summary>The node's SSH host key: installed at first boot, pinned by every connection to it.</summary>
    public Tls.PrivateKey HostKey { get; }
    public DO.Droplet Droplet { get; }

    /// <summary>The droplet's id as a trigger: a step with it runs again on a new droplet.</summary>
    public Input<object> DropletTrigger => Droplet.Id.Apply(id => (object)id);
    public Output<string> PublicIp { get; }
    public Output<string> PrivateIp { get; }
    public Output<NodeAddress> Address { get; }
    public ConnectionArgs Connection { get; }

    /// <summary>sshd answers: the node can be connected to, though cloud-init may still run.</summary>
    public Local.Command SshReachable { get; }

    /// <summary>cloud-init finished: packages are installed and the node can take remote steps.</summary>
    public Remote.Command Ready { get; }
}
