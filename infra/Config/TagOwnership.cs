namespace DoK8sHa.Config;

/// <summary>A droplet as DigitalOcean lists it under the cluster's tag (the getDroplets data source).</summary>
public sealed record TaggedDroplet(string Id, string Name, string CreatedAt);

/// <summary>What the droplets on the cluster's tag say before anything changes.</summary>
/// <param name="Problems">Droplets on the tag that are not this stack's: the update stops.</param>
/// <param name="StillLeaving">Nodes the last update removed whose droplet still runs: their departure did not finish.</param>
public sealed record TagVerdict(IReadOnlyList<string> Problems, IReadOnlyDictionary<string, PreviousNode> StillLeaving);

/// <summary>
/// Whose the droplets carrying the cluster's tag are. The load balancer and every firewall take
/// their droplets by tag, so another cluster's droplets there are served and opened as this one's.
/// And the record of the last update cannot say whether its removals happened: the engine deletes
/// what the program no longer declares after the program has exported its outputs (pulumi
/// deployment_executor.go), so a departure that failed leaves a member the record has dropped.
/// DigitalOcean's own list of the tag's droplets answers both, before any resource.
/// </summary>
public static class TagOwnership
{
    public static TagVerdict Judge(string clusterTag, IReadOnlyList<TaggedDroplet> onTag, PreviousDeployment previous, IReadOnlyCollection<string> configNodes)
    {
        var recorded = previous.Nodes ?? new Dictionary<string, PreviousNode>();
        var recordedIds = recorded.Values.Select(n => n.DropletId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var ids = onTag.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var sameName = onTag.GroupBy(d => d.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var stillLeaving = new Dictionary<string, PreviousNode>(StringComparer.Ordinal);
        var foreign = new List<TaggedDroplet>();
        foreach (var droplet in onTag.OrderBy(d => d.Name, StringComparer.Ordinal).ThenBy(d => d.Id, StringComparer.Ordinal))
        {
            if (recordedIds.Contains(droplet.Id))
            {
                continue;
            }
            if (previous.Departing.TryGetValue(droplet.Name, out var leaving) && leaving.DropletId == droplet.Id)
            {
                // Back in the inventory, the node keeps its droplet: the engine deletes nothing of it.
                if (!configNodes.Contains(droplet.Name))
                {
                    stillLeaving[droplet.Name] = leaving;
                }
                continue;
            }
            // A droplet the record does not know can still be this stack's: made by an update that
            // failed before its record (a new node, or a replacement whose old droplet is gone), or
            // recorded by a release that did not record droplets. A node has one droplet at a time
            // (every droplet is deleted before it is replaced), so a second of one name is not ours.
            var named = configNodes.Contains(droplet.Name) || recorded.ContainsKey(droplet.Name);
            var recordedOneGone = !recorded.TryGetValue(droplet.Name, out var was) || was.DropletId is not { } id || !ids.Contains(id);
            if (named && sameName[droplet.Name] == 1 && recordedOneGone)
            {
                continue;
            }
            foreign.Add(droplet);
        }
        var problems = new List<string>();
        if (foreign.Count > 0)
        {
            var list = string.Join(", ", foreign.Select(d => $"{d.Name} (id {d.Id}, created {d.CreatedAt})"));
            problems.Add($"{ConfigDefaults.Namespace}:nodes: the tag {clusterTag}, which this cluster's load balancer and firewalls take their droplets by, carries droplets that are not this stack's nodes: {list}. " +
                "Either another stack's cluster has the same name (two stacks whose names an earlier release made alike share their tags), or they are nodes this stack removed in an update that failed before they left, under a release that did not record droplets. " +
                "Fix: if `pulumi stack export | grep -w <id>` finds one in this stack's state, put that node back in nodes as it was, pulumi up, then remove it again; " +
                "otherwise retire the other stack without deleting the shared tags (docs/day-2.md \"Two stacks share a tag\")");
        }
        return new TagVerdict(problems, stillLeaving);
    }
}
