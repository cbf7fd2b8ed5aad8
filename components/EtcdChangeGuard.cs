using DoK8sHa.Scripts;
using Pulumi;
using Local = Pulumi.Command.Local;

namespace DoK8sHa.Components;

/// <summary>
/// Remembers the etcd nodes and refuses, before any droplet or remote step changes, an inventory
/// that adds more than one etcd member or removes more than one in a single update.
/// </summary>
public sealed class EtcdChangeGuard : ComponentResource
{
    public EtcdChangeGuard(string name, IReadOnlyList<string> etcdNodes, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:EtcdChangeGuard", name, options)
    {
        Check = LocalGuard.Create($"{name}-check", Render.EtcdChangeGuard(etcdNodes), this);
        RegisterOutputs(new Dictionary<string, object?> { ["etcdNodes"] = etcdNodes.ToList() });
    }

    /// <summary>Every droplet waits for this: a refused change stops the update before it starts.</summary>
    public Local.Command Check { get; }
}
