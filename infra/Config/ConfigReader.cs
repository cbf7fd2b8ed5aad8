namespace DoK8sHa.Config;

/// <summary>
/// Reads the stack's keys and collects what is wrong with them, each problem under its key path
/// (<c>nodes[2].roles</c>) with its fix, and the warnings: every section's parser writes here, and
/// one run reports everything at once.
/// </summary>
internal sealed class ConfigReader(Func<string, string?> get, Func<string, bool> isSet)
{
    private readonly List<string> _problems = [];
    private readonly List<string> _warnings = [];

    public IReadOnlyList<string> Problems => _problems;
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>The key's raw value, null when unset.</summary>
    public string? Raw(string key) => get(key);

    /// <summary>Whether a key, secret or not, is set.</summary>
    public bool IsSet(string key) => isSet(key);

    /// <summary>The key's trimmed value, or the fallback when unset or empty.</summary>
    public string Read(string key, string fallback) => get(key) is { Length: > 0 } v ? v.Trim() : fallback;

    /// <summary>The key's trimmed value, empty when unset.</summary>
    public string Optional(string key) => get(key)?.Trim() ?? "";

    public void Problem(string keyPath, string what, string fix) => _problems.Add($"{ConfigDefaults.Namespace}:{keyPath}: {what}. Fix: {fix}");

    public void Warn(string text) => _warnings.Add(text);

    /// <summary>The collector as the callback the list parsers take.</summary>
    public Action<string, string, string> ProblemSink => Problem;

    /// <summary>The warnings as the list the node parser appends to.</summary>
    public List<string> WarningSink => _warnings;
}
