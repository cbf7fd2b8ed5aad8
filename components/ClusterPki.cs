using DoK8sHa.Scripts;
using Pulumi;
using Local = Pulumi.Command.Local;

namespace DoK8sHa.Components;

/// <summary>
/// The cluster's certificate authorities, created once on the machine running `pulumi up` and
/// kept as secrets in the stack state. Owning the CAs is what frees the cluster from kubeadm's
/// 2-hour certificate-key and 24-hour token windows, and from a special first node.
/// </summary>
public sealed class ClusterPki : ComponentResource
{
    public ClusterPki(string name, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterPki", name, options)
    {
        var generate = new Local.Command($"{name}-generate", new Local.CommandArgs
        {
            Create = Render.ClusterPki(),
            Interpreter = { "/bin/bash", "-c" },
            Logging = Local.Logging.None,
        }, new CustomResourceOptions
        {
            Parent = this,
            AdditionalSecretOutputs = { "stdout" },
            // Re-running would mint new CAs and orphan every node: a newer script must not do that.
            IgnoreChanges = { "create", "interpreter", "logging" },
        });

        // Under the real engine AdditionalSecretOutputs already makes stdout secret; say it here too.
        Material = Output.CreateSecret(generate.Stdout.Apply(ClusterPkiMaterial.Parse));

        RegisterOutputs(new Dictionary<string, object?> { ["caCertificate"] = Material.Apply(m => m.CaCert) });
    }

    /// <summary>Secret: the CA keys, the admin credential and the bootstrap token.</summary>
    public Output<ClusterPkiMaterial> Material { get; }
}
