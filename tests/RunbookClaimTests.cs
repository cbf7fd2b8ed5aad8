using System.Collections;
using System.Globalization;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>What the README's runbooks say a change touches, checked against the program.</summary>
public class RunbookClaimTests
{
    /// <summary>A resource's inputs as one comparable string (maps sorted by key).</summary>
    private static string Canon(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        IDictionary map => "{" + string.Join(",", map.Keys.Cast<object>().Select(k => k.ToString()!).Order(StringComparer.Ordinal).Select(k => k + ":" + Canon(map[k]))) + "}",
        IEnumerable list => "[" + string.Join(",", list.Cast<object?>().Select(Canon)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // docs/day-2.md "Scale". Seen failing against the README's former "nothing else changes".
    [Test]
    public async Task AddingAWorkerChangesWhatTheScaleRunbookNamesAndNothingElse()
    {
        var nodes = """
            [{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},
             {"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["worker"]}]
            """;
        // One TLS provider for both runs, as one stack's state: no other test's renewal between them.
        var tls = new TlsStandIn();
        var before = (await StackRun.RunAsync("dev", StackRun.StackConfig("dev"), new ClusterMocks { Tls = tls })).Mocks;
        var after = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes), new ClusterMocks { Tls = tls })).Mocks;

        var changed = after.Resources.Where(r => before.Resources.Any(b => b.Name == r.Name && b.Type == r.Type))
            .Where(r => Canon(r.Inputs) != Canon(before.Resources.Single(b => b.Name == r.Name && b.Type == r.Type).Inputs))
            .Select(r => r.Name).Order(StringComparer.Ordinal).ToList();
        Assert.That(changed, Is.EqualTo(new[] { "health-check" }), string.Join(", ", changed));
    }

    /// <summary>
    /// docs/troubleshooting.md quotes the program's own words as block quotes: each piece between
    /// "…" is in a string of the program's sources or script templates, so a message that changes
    /// or goes takes its entry with it.
    /// </summary>
    [Test]
    public void EveryMessageTheTroubleshootingPageQuotesIsOneTheProgramPrints()
    {
        var sources = string.Concat(new[] { "infra", "components" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(Repo.Root, d), "*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".sh", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var quotes = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "troubleshooting.md"))
            .Where(l => l.StartsWith("> ", StringComparison.Ordinal)).Select(l => l[2..]).ToList();
        Assert.That(quotes, Has.Count.GreaterThanOrEqualTo(10));
        foreach (var piece in quotes.SelectMany(q => q.Split('…')).Select(p => p.Trim()).Where(p => p.Length > 0))
        {
            Assert.That(sources, Does.Contain(piece), "docs/troubleshooting.md quotes a message the program does not print");
        }
    }

    /// <summary>README and docs/, without the history of resources earlier releases had ("Upgrading the program").</summary>
    private static string Documentation()
    {
        var texts = new[] { Repo.Path("README.md") }.Concat(Directory.GetFiles(Repo.Path("docs"), "*.md")).Select(File.ReadAllText).ToList();
        var all = string.Join("\n", texts);
        var history = all.IndexOf("## Upgrading the program", StringComparison.Ordinal);
        if (history >= 0)
        {
            var end = all.IndexOf("\n## ", history + 3, StringComparison.Ordinal);
            all = all[..history] + (end < 0 ? "" : all[end..]);
        }
        return all;
    }

    /// <summary>
    /// Every resource name the documentation gives with a placeholder (`etcd-&lt;node&gt;.service`)
    /// is one the program registers, in the dev or prod stack or with a restore from the bucket configured.
    /// </summary>
    [Test]
    public async Task EveryResourceTheDocumentationNamesExists()
    {
        var restore = StackRun.StackConfig("dev");
        restore["do-k8s-ha:etcdSnapshotBucket"] = "k8s-dev-snapshots";
        restore["do-k8s-ha:etcdRestoreFrom"] = "spaces:etcd/node1.db";
        var names = (await StackRun.SharedAsync("dev")).Mocks.Resources.Select(r => r.Name)
            .Concat((await StackRun.SharedAsync("prod")).Mocks.Resources.Select(r => r.Name))
            .Concat((await StackRun.RunAsync("dev", restore)).Mocks.Resources.Select(r => r.Name))
            .ToHashSet(StringComparer.Ordinal);
        var documented = System.Text.RegularExpressions.Regex.Matches(Documentation(), @"`([a-z][a-z0-9.-]*<(?:node|worker|name)>[a-z0-9.-]*)`")
            .Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.That(documented, Has.Count.GreaterThanOrEqualTo(10));
        foreach (var name in documented)
        {
            var pattern = "^" + System.Text.RegularExpressions.Regex.Escape(name).Replace("<node>", "[a-z0-9]+").Replace("<worker>", "[a-z0-9]+").Replace("<name>", "[a-z0-9]+") + "$";
            Assert.That(names.Any(n => System.Text.RegularExpressions.Regex.IsMatch(n, pattern)), Is.True, $"the documentation names `{name}`, which the program does not register");
        }
    }

    /// <summary>Every `pulumi stack output X` in the documentation reads an output the program exports.</summary>
    [Test]
    public async Task EveryOutputTheDocumentationReadsExists()
    {
        var outputs = (await StackRun.SharedAsync("dev")).Outputs.Keys.ToHashSet(StringComparer.Ordinal);
        var read = System.Text.RegularExpressions.Regex.Matches(Documentation(), @"pulumi stack output ([A-Za-z]+)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.That(read, Is.Not.Empty);
        Assert.That(read, Is.SubsetOf(outputs));
    }
}
