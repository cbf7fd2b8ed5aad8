using System.Text.RegularExpressions;
using DoK8sHa.Config;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The README's configuration table says what the program does: every key the program declares
/// (ConfigDefaults.Defaults, which Pulumi.yaml is checked against too) has one row, no row names
/// another key, and each default shown is the program's.
/// </summary>
public partial class ReadmeConfigTableTests
{
    /// <summary>Each key of the table with the default shown for it ("`a` / `b`" rows pair up).</summary>
    private static Dictionary<string, string> Table()
    {
        var page = File.ReadAllText(Repo.Path("docs", "configuration.md"));
        var section = page[page.IndexOf("# Configuration", StringComparison.Ordinal)..];
        var end = section.IndexOf("\n## ", 3, StringComparison.Ordinal);
        section = end < 0 ? section : section[..end];
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            var keys = KeyCell().Matches(cells[1]).Select(m => m.Groups[1].Value).ToList();
            var defaults = cells[2].Split(" / ");
            for (var i = 0; i < keys.Count; i++)
            {
                Assert.That(rows.TryAdd(keys[i], defaults.Length == keys.Count ? defaults[i] : cells[2]), Is.True, $"{keys[i]} has two rows");
            }
        }
        return rows;
    }

    [Test]
    public void EveryKeyHasOneRowAndNoRowNamesAnotherKey() =>
        Assert.That(Table().Keys, Is.EquivalentTo(ConfigDefaults.Defaults.Keys));

    [Test]
    public void EachDefaultShownIsTheProgramsDefault()
    {
        foreach (var (key, shown) in Table())
        {
            switch (ConfigDefaults.Defaults[key])
            {
                case null or "":
                    Assert.That(shown, Does.StartWith("—"), $"{key} has no default");
                    break;
                case string text when key != "etcdSha256":
                    Assert.That(shown, Is.EqualTo($"`{text}`"), key);
                    break;
                case bool flag:
                    Assert.That(shown, Is.EqualTo(flag ? "`true`" : "`false`"), key);
                    break;
                case int number:
                    Assert.That(shown, Is.EqualTo($"`{number}`"), key);
                    break;
                case IEnumerable<string> list:
                    Assert.That(shown, Is.EqualTo($"`[{string.Join(", ", list)}]`"), key);
                    break;
            }
        }
    }

    [GeneratedRegex("`([A-Za-z0-9]+)`")]
    private static partial Regex KeyCell();
}
