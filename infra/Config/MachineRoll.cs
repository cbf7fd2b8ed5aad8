namespace DoK8sHa.Config;

/// <summary>
/// What a node's droplet is made from, as far as a change takes the node down: a new image
/// replaces the droplet (ForceNew in terraform-provider-digitalocean droplet/resource_droplet.go),
/// a new size powers it off for a resize. Recorded per node in the `nodes` output.
/// </summary>
public sealed record NodeMachine(string Image, string Size);

/// <summary>A node as the last successful update left it (the `nodes` output).</summary>
/// <param name="Machine">Null: recorded by a release that did not record it.</param>
/// <param name="DropletId">The node's droplet, as DigitalOcean numbers it; null: recorded by a release that did not record it.</param>
/// <param name="KubernetesVersion">The release the node's steps were last rendered with (recorded since lostNodes pins a dead node's).</param>
/// <param name="HostKeyMadeHere">Its droplet made its own SSH host key (host-key.sh); false: it serves its user data's.</param>
public sealed record PreviousNode(NodeRoles Roles, string? PrivateIp, NodeMachine? Machine, string? DropletId = null, string? KubernetesVersion = null, bool HostKeyMadeHere = false)
{
    /// <summary>It had a downloads step (releases.sh); false for a node of a release of this program before them.</summary>
    public bool HasDownloads { get; init; }
}

/// <summary>How this update treats each existing node's droplet.</summary>
/// <param name="Rolled">Existing nodes whose droplet takes its new image or size in this update.</param>
/// <param name="Kept">Existing nodes whose droplet keeps what it has (ignoreChanges): an image, size, user data or SSH key change waits.</param>
/// <param name="Waiting">Kept nodes whose image or size still differs from the config: later updates roll them.</param>
public sealed record RollPlan(IReadOnlySet<string> Rolled, IReadOnlySet<string> Kept, IReadOnlyList<string> Waiting)
{
    public static RollPlan NewStack { get; } = new(new HashSet<string>(), new HashSet<string>(), []);

    /// <summary>
    /// What the node's droplet is made from after this update: what it had, or what the config
    /// says; null for a kept node whose last update did not record it (then its droplet's state tells).
    /// </summary>
    public NodeMachine? MachineAfter(NodeSpec node, string image, PreviousNode? previous) =>
        !Kept.Contains(node.Name) ? new NodeMachine(image, node.Size) : previous?.Machine;
}

/// <summary>
/// Rolls a change of image or size through the nodes instead of taking them all down at once:
/// every update takes at most one etcd or control-plane node down for it, and a quarter of the
/// workers (at least one). The nodes it does not roll keep their droplets as they are, so
/// `pulumi up` again rolls the next. Judged from each node's record in the last successful
/// update's outputs, which the program exports only after the health gate passed.
/// </summary>
public static class MachineRoll
{
    /// <param name="previous">The nodes of the last successful update; null for a new stack.</param>
    /// <param name="membershipChanges">This update adds or removes an etcd or control-plane node: it takes none down for a roll.</param>
    public static (RollPlan Plan, IReadOnlyList<string> Notes) Plan(
        IReadOnlyDictionary<string, PreviousNode>? previous, IReadOnlyList<NodeSpec> nodes, string image, bool membershipChanges)
    {
        var notes = new List<string>();
        if (previous is null)
        {
            return (RollPlan.NewStack, notes);
        }

        var existing = nodes.Where(n => previous.ContainsKey(n.Name)).ToList();
        var unrecorded = existing.Where(n => previous[n.Name].Machine is null).Select(n => n.Name).ToList();
        // A node whose roles change is a new droplet anyway (its tags replace it): it takes the
        // config's image, size and user data rather than its old droplet's, and is neither kept nor rolled.
        var sameRoles = existing.Where(n => n.Roles == previous[n.Name].Roles).ToList();
        var pending = sameRoles
            .Where(n => previous[n.Name].Machine is { } had && had != new NodeMachine(image, n.Size))
            .ToList();

        var rolled = new List<NodeSpec>();
        var keyPending = pending.Where(n => n.Roles.HoldsQuorum()).ToList();
        if (keyPending.Count > 0 && !membershipChanges)
        {
            rolled.Add(keyPending[0]);
        }
        var workerPending = pending.Where(n => !n.Roles.HoldsQuorum()).ToList();
        var workers = nodes.Count(n => !n.Roles.HoldsQuorum());
        rolled.AddRange(workerPending.Take(Math.Max(1, workers / 4)));

        foreach (var node in rolled)
        {
            notes.Add($"rolling {node.Name}: {Describe(previous[node.Name].Machine!, new NodeMachine(image, node.Size))}");
        }
        var waiting = pending.Except(rolled).Select(n => n.Name).ToList();
        if (waiting.Count > 0)
        {
            var why = keyPending.Count > 0 && membershipChanges && rolled.All(n => !n.Roles.HoldsQuorum())
                ? "this update adds or removes an etcd or control-plane node, so it takes none down for a new image or size"
                : "one etcd or control-plane node, and a quarter of the workers, per update";
            notes.Add($"{string.Join(' ', waiting)} keep their image and size for now ({why}): run pulumi up again to roll the next");
        }
        if (unrecorded.Count > 0)
        {
            notes.Add($"{string.Join(' ', unrecorded)}: the last update did not record their image and size; they keep theirs in this update, which records them, and the next rolls any change");
        }

        var rolledNames = rolled.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var kept = sameRoles.Select(n => n.Name).Where(n => !rolledNames.Contains(n)).ToHashSet(StringComparer.Ordinal);
        return (new RollPlan(rolledNames, kept, waiting), notes);
    }

    private static string Describe(NodeMachine had, NodeMachine wants)
    {
        var parts = new List<string>();
        if (had.Image != wants.Image)
        {
            parts.Add($"image {had.Image} -> {wants.Image} (a new droplet)");
        }
        if (had.Size != wants.Size)
        {
            parts.Add($"size {had.Size} -> {wants.Size} (powered off to resize)");
        }
        return string.Join(", ", parts);
    }
}
