using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class RemoteStepArgs
{
    /// <summary>
    /// The step to run at creation (and again when it changes), from <c>Render.StepScript</c> or
    /// <c>Render.SecretStepScript</c>; it travels on stdin and may hold secrets. Null: creating the step
    /// connects nowhere and runs nothing (pulumi-command remote/commandController.go). A step has
    /// exactly one of Create, Update and Delete.
    /// </summary>
    public required Input<string>? Create { get; init; }

    /// <summary>The step to run only when its inputs change (an upgrade), never at creation.</summary>
    public Input<string>? Update { get; init; }

    /// <summary>The step to run only when it (and so the node's part in the cluster) goes away.</summary>
    public Input<string>? Delete { get; init; }

    public IReadOnlyList<Resource> DependsOn { get; init; } = [];

    /// <summary>
    /// More values whose change runs the step again (as a replacement), beside its own droplet.
    /// Never a clock: a trigger that differs on every run makes every preview dirty.
    /// </summary>
    public IReadOnlyList<Input<object>> Triggers { get; init; } = [];

    /// <summary>
    /// Another node to run the step on, for work about the step's node that must not need it
    /// alive: taking a dead node out of the cluster. The step still follows its own node's droplet.
    /// </summary>
    public ClusterNode? RunOn { get; init; }

    /// <summary>
    /// Instead of <see cref="RunOn"/>: another connection. The load balancer's SSH relay, which
    /// reaches whichever control-plane node is alive, for work that any of them can do; or the
    /// node's own with more dial retries, for the first step on a new droplet.
    /// </summary>
    public ConnectionArgs? RunVia { get; init; }

    /// <summary>
    /// A resource whose deletion makes this step's delete needless: the engine then skips it
    /// (resource option deletedWith). For cleanup that only matters while the cluster lives.
    /// </summary>
    public Resource? DeletedWith { get; init; }

    /// <summary>
    /// The step has no script at all: it keeps its place in the graph, and in the state nothing
    /// for the engine to run when it is deleted or replaced (a lost node's departure, lostNodes).
    /// </summary>
    public bool RunsNothing { get; init; }

    /// <summary>The step prints a secret: its output is not streamed to `pulumi up`'s display.</summary>
    public bool PrintsSecret { get; init; }

    /// <summary>
    /// The step keeps the script it has in the state, whatever this update renders (ignoreChanges
    /// on stdin): a lost node's, which must not run again on a droplet no step reaches. A droplet
    /// made anew in its place runs it as it was (the engine keeps an ignored input through a
    /// replacement: pulumi step_generator.go, processIgnoreChanges).
    /// </summary>
    public bool KeepsScript { get; init; }

    /// <summary>Names the step had before (same parent and type): the engine keeps it instead of replacing it.</summary>
    public IReadOnlyList<string> FormerNames { get; init; } = [];
}

/// <summary>
/// Every remote step runs the same way: over the node's SSH connection (or another node's, see
/// <see cref="RemoteStepArgs.RunOn"/>), parented to its component, with stdout and stderr kept
/// secret in the state (pulumi-command shows them in diffs otherwise), re-run on a new droplet,
/// and torn down before a replacement is created. Its script travels on stdin, and the command's
/// text is the fixed <see cref="Render.StepRunner"/>: pulumi-command prints that text in full
/// when a step fails, and puts it on the SSH command line, visible in `ps` on the node.
/// </summary>
internal static class RemoteStep
{
    public static Remote.Command Create(string name, ClusterNode node, RemoteStepArgs args, Resource? parent = null)
    {
        // A step has one script, run at creation, or only on update, or only on delete: stdin is
        // one input for all three.
        var scripts = new[] { args.Create, args.Update, args.Delete }.OfType<Input<string>>().ToList();
        if (scripts.Count != (args.RunsNothing ? 0 : 1))
        {
            throw new ArgumentException(args.RunsNothing
                ? $"remote step {name} runs nothing, and was given {scripts.Count} of Create, Update and Delete"
                : $"remote step {name} needs exactly one of Create, Update and Delete, not {scripts.Count}");
        }
        var commandArgs = new Remote.CommandArgs
        {
            Connection = args.RunVia ?? (args.RunOn ?? node).Connection,
            Stdin = args.RunsNothing ? "" : scripts[0],
            Create = args.Create is null ? null! : Render.StepRunner,
            Update = args.Update is null ? null! : Render.StepRunner,
            Delete = args.Delete is null ? null! : Render.StepRunner,
            // A new droplet (same name, new id) must run every step again.
            Triggers = { node.DropletTrigger },
            // On update and delete pulumi-command would send the previous stdout and stderr as
            // SSH environment variables, which sshd refuses unless AcceptEnv allows them: a
            // warning on every update (pulumi-command remote/commandController.go).
            AddPreviousOutputInEnv = false,
        };
        if (args.PrintsSecret)
        {
            commandArgs.Logging = Remote.Logging.None;
        }
        foreach (var trigger in args.Triggers)
        {
            commandArgs.Triggers.Add(trigger);
        }
        return new(name, commandArgs, new CustomResourceOptions
        {
            Parent = parent ?? node,
            DependsOn = args.DependsOn.ToList(),
            AdditionalSecretOutputs = { "stdout", "stderr" },
            DeleteBeforeReplace = true,
            Aliases = [.. args.FormerNames.Select(n => (Input<Alias>)new Alias { Name = n })],
            DeletedWith = args.DeletedWith,
            IgnoreChanges = args.KeepsScript ? ["stdin"] : [],
        });
    }
}
