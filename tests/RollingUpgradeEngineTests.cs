using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using DoK8sHa.Tests.Support;
using Pulumi;
using Pulumi.Testing;

namespace DoK8sHa.Tests;

/// <summary>
/// A rolling upgrade of 40 nodes under an engine with 8 slots: the order comes from dependsOn
/// (captured by a stack transformation, since mocks never see it), so no step waits in its
/// script while holding a slot, and the upgrade completes one node at a time whatever order the
/// engine starts ready steps in.
/// </summary>
[NonParallelizable]
public partial class RollingUpgradeEngineTests
{
    private static readonly ConcurrentDictionary<string, ResourceOptions> Options = new();

    private sealed class CapturingStack : Stack
    {
        public CapturingStack()
            : base(new StackOptions
            {
                ResourceTransformations =
                {
                    args =>
                    {
                        Options[args.Resource.GetResourceName()] = args.Options;
                        return null;
                    },
                },
            }) => ClusterProgram.Run();
    }

    private static string Inventory(int workers) =>
        "[" + string.Join(",", Enumerable.Range(1, 3).Select(i => $$"""{"name":"cp{{i}}","roles":["control-plane","etcd"]}""")
            .Concat(Enumerable.Range(1, workers).Select(i => $$"""{"name":"w{{i}}","roles":["worker"]}"""))) + "]";

    private static async Task<IReadOnlyList<EngineModel.Step>> UpgradeSteps(int workers)
    {
        Options.Clear();
        var mocks = new ClusterMocks();
        var config = StackRun.WithNodes(Inventory(workers));
        Environment.SetEnvironmentVariable("PULUMI_CONFIG", System.Text.Json.JsonSerializer.Serialize(config));
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", """["do-k8s-ha:sshPrivateKey"]""");
        try
        {
            await Deployment.TestAsync<CapturingStack>(mocks, new TestOptions { ProjectName = "do-k8s-ha", StackName = "dev", IsPreview = false });
        }
        finally
        {
            Environment.SetEnvironmentVariable("PULUMI_CONFIG", null);
            Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", null);
        }

        var upgrades = mocks.OfType("command:remote:Command").Where(r => r.Name.StartsWith("upgrade-", StringComparison.Ordinal)).ToList();
        var names = upgrades.Select(u => u.Name).ToHashSet();
        var steps = new List<EngineModel.Step>();
        foreach (var upgrade in upgrades)
        {
            var dependsOn = await Options[upgrade.Name].DependsOn.ToOutput().ValueAsync();
            var script = upgrade.Inputs.TryGetValue("update", out var update) ? update.ToString() ?? "" : "";
            // A script that waits for other nodes names them (as node-upgrade.sh's PREDECESSORS did).
            var waits = Predecessors().Match(script) is { Success: true } m
                ? m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => $"upgrade-{n}").ToList()
                : [];
            steps.Add(new EngineModel.Step(upgrade.Name, [.. dependsOn.Select(r => r.GetResourceName()).Where(names.Contains)], waits, Seconds: 120));
        }
        return steps;
    }

    /// <summary>The engine starts the last inventory nodes first: workers take every slot.</summary>
    private static readonly IComparer<EngineModel.Step> WorkersFirst = Comparer<EngineModel.Step>.Create((a, b) => string.CompareOrdinal(b.Name, a.Name));

    [Test]
    public async Task FortyNodesUpgradeOneAtATimeWithEightSlots()
    {
        var steps = await UpgradeSteps(workers: 37);
        // One step per control-plane node; three per worker: drained from a control-plane node,
        // upgraded on itself, uncordoned from a control-plane node.
        Assert.That(steps, Has.Count.EqualTo(3 + (37 * 3)));

        var outcome = EngineModel.Run(steps, slots: 8, WorkersFirst);

        Assert.That(outcome.Completed, Is.True, $"stuck: {string.Join(", ", outcome.Stuck)}");
        Assert.That(outcome.Finished.Take(6), Is.EqualTo(new[] { "upgrade-cp1", "upgrade-cp2", "upgrade-cp3", "upgrade-w1.drain", "upgrade-w1", "upgrade-w1.uncordon" }), "the first control-plane node first, then the others, then the workers");
        Assert.That(outcome.Seconds, Is.EqualTo(steps.Count * 120), "one step at a time");
        Assert.That(steps.SelectMany(s => s.WaitsInside), Is.Empty, "no script waits for another node");
    }

    [Test]
    public void TheModelHangsWhereScriptsWaitForEachOtherInsideTheirSlots()
    {
        // The former design: every step updated at once, each script waiting for the nodes
        // before it. With more nodes than slots and workers started first, nothing moves.
        var order = new[] { "cp1", "cp2", "cp3" }.Concat(Enumerable.Range(1, 37).Select(i => $"w{i}")).ToList();
        var steps = order.Select((n, i) => new EngineModel.Step($"upgrade-{n}", [], [.. order.Take(i).Select(p => $"upgrade-{p}")], 120)).ToList();

        var outcome = EngineModel.Run(steps, slots: 8, WorkersFirst);

        Assert.That(outcome.Completed, Is.False);
        Assert.That(outcome.Stuck, Does.Contain("upgrade-cp1"));
    }

    [GeneratedRegex(@"PREDECESSORS='([^']*)'")]
    private static partial Regex Predecessors();
}
