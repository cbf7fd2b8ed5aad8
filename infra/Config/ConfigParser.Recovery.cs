namespace DoK8sHa.Config;

/// <summary>The disaster-recovery key: the nodes whose droplets are dead or gone.</summary>
public static partial class ConfigParser
{
    private static IReadOnlySet<string> ParseLostNodes(Func<string, string?> get, IReadOnlyList<NodeSpec> nodes, Action<string, string, string> problem)
    {
        var lost = StringList(get, "lostNodes", [], DnsLabel(), "a node name", problem, allowEmpty: true, example: "node1");
        for (var i = 0; i < lost.Count; i++)
        {
            if (nodes.Count > 0 && !nodes.Any(n => n.Name == lost[i]))
            {
                problem($"lostNodes[{i}]", $"'{lost[i]}' is not a node of the inventory", $"list only names from nodes ({string.Join(", ", nodes.Select(n => n.Name))}), or `pulumi config rm lostNodes`");
            }
        }
        return lost.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>What lostNodes does on this inventory, said before anything runs.</summary>
    private static void WarnOfLostNodes(ClusterSettings settings, List<string> warnings)
    {
        var listed = settings.Nodes.Where(n => settings.LostNodes.Contains(n.Name)).ToList();
        if (listed.Count == 0)
        {
            return;
        }
        var names = string.Join(", ", listed.Select(n => n.Name));
        var disarmed = listed.Where(n => settings.KubernetesDepartureDisarmed(n) || settings.EtcdDepartureDisarmed(n)).ToList();
        var departures = disarmed.Count == 0
            ? "their departures still run, on a live node. "
            : $"no live node can take {string.Join(", ", disarmed.Select(n => n.Name))} out of the cluster, so those departures run nothing. "
                + $"Before their droplets are replaced, record that: {DisarmCommand(settings)} (docs/backups.md). ";
        warnings.Add($"{ConfigDefaults.Namespace}:lostNodes is set ({names}): a rolling upgrade passes them by and the health gate does not wait for them; "
            + departures + "Remove lostNodes once they are back.");
    }
    /// <summary>
    /// The targeted update that records the lost nodes' disarmed departures in the state, and
    /// nothing else: the engine deletes a step with the inputs its state holds. Globs as the CLI
    /// takes them (pulumi pkg/resource/deploy/deployment.go, NewUrnTargets: "**" any run, "*" no ':').
    /// </summary>
    public static string DisarmCommand(ClusterSettings settings) =>
        "pulumi up " + string.Join(" ", settings.Nodes.SelectMany(n =>
            (settings.KubernetesDepartureDisarmed(n) ? new[] { $"--target '**::leave-{n.Name}'" } : [])
                .Concat(settings.EtcdDepartureDisarmed(n) ? [$"--target '**::leave-{n.Name}.etcd'"] : [])));
}
