using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Local = Pulumi.Command.Local;

namespace DoK8sHa.Components;

/// <summary>
/// Remembers the Kubernetes version the cluster runs and refuses, before any droplet or remote
/// step changes, a new one that kubeadm cannot reach: a downgrade or a skipped minor release.
/// Its update script sees the previous run's output (the version then) as PULUMI_COMMAND_STDOUT.
/// </summary>
public sealed class KubernetesVersionGuard : ComponentResource
{
    public KubernetesVersionGuard(string name, KubernetesVersion version, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:KubernetesVersionGuard", name, options)
    {
        Check = LocalGuard.Create($"{name}-check", Render.VersionGuard(version), this);
        RegisterOutputs(new Dictionary<string, object?> { ["version"] = version.ToString() });
    }

    /// <summary>Every droplet waits for this: a refused version stops the update before it starts.</summary>
    public Local.Command Check { get; }
}
