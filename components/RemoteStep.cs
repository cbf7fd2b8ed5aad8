using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class RemoteStepArgs
{
    /// <summary>The step's command text, from <c>Render.RemoteStep</c>. May hold secrets.</summary>
    public required Input<string> Create { get; init; }

    /// <summary>What runs instead of <see cref="Create"/> when the step's inputs change (default: Create again).</summary>
    public Input<string>? Update { get; init; }

    /// <summary>What runs when the step (and so the node's part in the cluster) goes away.</summary>
    public Input<string>? Delete { get; init; }

    public IReadOnlyList<Resource> DependsOn { get; init; } = [];

    /// <summary>Run on every update, not only when the step changes (checks, not changes).</summary>
    public bool AlwaysRun { get; init; }

    /// <summary>
    /// Another node to run the step on, for work about the step's node that must not need it
    /// alive: taking a dead node out of the cluster. The step still follows its own node's droplet.
    /// </summary>
    public ClusterNode? RunOn { get; init; }
}

/// <summary>
/// Every remote step runs the same way: over the node's SSH connection (or another node's, see
/// <see cref="RemoteStepArgs.RunOn"/>), parented to its component, with stdout and stderr kept
/// secret in the state (pulumi-command shows them in diffs otherwise), re-run on a new droplet,
/// and torn down before a replacement is created.
/// </summary>
internal static class RemoteStep
{
    public static Remote.Command Create(string name, ClusterNode node, RemoteStepArgs args, Resource? parent = null)
    {
        var commandArgs = new Remote.CommandArgs
        {
            Connection = (args.RunOn ?? node).Connection,
            Create = args.Create,
            Delete = args.Delete!,
            Update = args.Update!,
            // A new droplet (same name, new id) must run every step again.
            Triggers = { (Input<object>)node.Droplet.Id.Apply(id => (object)id) },
        };
        if (args.AlwaysRun)
        {
            commandArgs.Triggers.Add((Input<object>)DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        }
        return new(name, commandArgs, new CustomResourceOptions
        {
            Parent = parent ?? node,
            DependsOn = args.DependsOn.ToList(),
            AdditionalSecretOutputs = { "stdout", "stderr" },
            DeleteBeforeReplace = true,
        });
    }
}
