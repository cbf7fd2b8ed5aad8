namespace DoK8sHa.Config;

/// <summary>The disaster-recovery key: the nodes whose droplets are lost for good.</summary>
public static partial class ConfigParser
{
    private static IReadOnlySet<string> ParseLostNodes(Func<string, string?> get, IReadOnlyList<NodeSpec> nodes, Action<string, string, string> problem, List<string> warnings)
    {
        var lost = StringList(get, "lostNodes", [], DnsLabel(), "a node name", problem, allowEmpty: true, example: "node1");
        for (var i = 0; i < lost.Count; i++)
        {
            if (nodes.Count > 0 && !nodes.Any(n => n.Name == lost[i]))
            {
                problem($"lostNodes[{i}]", $"'{lost[i]}' is not a node of the inventory", $"list only names from nodes ({string.Join(", ", nodes.Select(n => n.Name))}), or `pulumi config rm lostNodes`");
            }
        }
        var listed = nodes.Where(n => lost.Contains(n.Name)).ToList();
        if (listed.Count > 0)
        {
            warnings.Add($"{ConfigDefaults.Namespace}:lostNodes is set ({string.Join(", ", listed.Select(n => n.Name))}): their departures run nothing. "
                + $"Before their droplets are replaced, record that: {DisarmCommand(listed)} (docs/backups.md). Remove lostNodes once they are back.");
        }
        return lost.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The targeted update that records the lost nodes' disarmed departures in the state, and
    /// nothing else: the engine deletes a step with the inputs its state holds. Globs as the CLI
    /// takes them (pulumi pkg/resource/deploy/deployment.go, NewUrnTargets: "**" any run, "*" no ':').
    /// </summary>
    public static string DisarmCommand(IEnumerable<NodeSpec> lost) =>
        "pulumi up " + string.Join(" ", lost.SelectMany(n =>
            (n.IsKubernetesNode ? new[] { $"--target '**::leave-{n.Name}'" } : [])
                .Concat(n.IsEtcd ? [$"--target '**::leave-{n.Name}.etcd'"] : [])));
}
