using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace DoK8sHa.Scripts;

/// <summary>
/// Fills the embedded templates under infra/Scripts/templates. Strict both ways: a placeholder
/// without a value and a value without a placeholder are errors, so a template and its caller
/// cannot drift apart silently.
/// </summary>
internal static partial class Template
{
    private static readonly ConcurrentDictionary<string, string> Cache = new();

    public static string Render(string name, IReadOnlyDictionary<string, string> values)
    {
        var text = Load(name);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = Placeholder().Replace(text, match =>
        {
            var key = match.Groups[1].Value;
            if (!values.TryGetValue(key, out var value))
            {
                throw new InvalidOperationException($"template {name}: no value for {{{{{key}}}}}");
            }
            used.Add(key);
            return value;
        });
        var unused = values.Keys.Where(k => !used.Contains(k)).ToList();
        if (unused.Count > 0)
        {
            throw new InvalidOperationException($"template {name}: values never used: {string.Join(", ", unused)}");
        }
        return result;
    }

    // Every embedded resource under templates/ (infra.csproj names each templates/<file>).
    public static IEnumerable<string> Names() =>
        typeof(Template).Assembly.GetManifestResourceNames().Where(n => n.StartsWith("templates/", StringComparison.Ordinal)).Select(n => n["templates/".Length..]);

    private static string Load(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(Template).Assembly.GetManifestResourceStream($"templates/{n}")
            ?? throw new InvalidOperationException($"no template named {n}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    [GeneratedRegex(@"\{\{([A-Z][A-Z0-9_]*)\}\}")]
    private static partial Regex Placeholder();
}

/// <summary>Shell quoting for values placed into rendered scripts.</summary>
internal static class Sh
{
    /// <summary>One single-quoted shell word: safe for any value.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public static string Bool(bool value) => value ? "true" : "false";
}
