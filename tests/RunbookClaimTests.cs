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

    // README "Scale". Seen failing against the README's former "nothing else changes".
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
        Assert.That(changed, Is.EqualTo(new[] { "addons-kubelet-csr-approver", "health-check" }), string.Join(", ", changed));
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
}
