using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests.Support;

/// <summary>A stack config value as the CLI holds it: plain text, or an object (list, map), secure or not.</summary>
public sealed record StackValue(object Value, bool Secure = false);

/// <summary>
/// What the Pulumi CLI checks of Pulumi.yaml and a stack's config before `preview`, `up`,
/// `refresh` or `destroy` starts the program, with its own messages:
/// - pulumi sdk/go/common/workspace/project.go, Project.Validate: a key in the project's namespace
///   with `type: array` needs `items`, a typed key's default must be of its type (ValidateConfigValue);
/// - pulumi pkg/workspace/config.go, mergeConfig: a project-namespace key with no default, no value
///   and no stack value is missing (every missing key in one error); a stack value of an explicitly
///   typed key goes through validateStackConfigValue: `secret: true` needs a secure value, then
///   the type (ValidateConfigValue) is checked. Keys the stack sets that Pulumi.yaml does not
///   declare are passed to the program unchecked.
/// ValidateConfigValue (project.go): a string is a string; an integer an int, a whole float or a
/// string Atoi parses; a boolean a bool or the string "true"/"false"; an object a map; an array a
/// list whose items each pass their items type. Plain stack values reach it as strings, YAML lists
/// and maps as objects (config.Value.Object, json.Unmarshal).
/// </summary>
public static class PulumiCliConfig
{
    /// <summary>The CLI's first error for the stack, or null when it would run the program.</summary>
    public static string? Check(string projectName, YamlMappingNode projectConfig, string stackName, IReadOnlyDictionary<string, StackValue> stack)
    {
        foreach (var (keyNode, typeNode) in projectConfig.Children)
        {
            var key = keyNode.ToString();
            var type = (YamlMappingNode)typeNode;
            var typeName = Scalar(type, "type");
            if (typeName == "array" && !type.Children.ContainsKey(new YamlScalarNode("items")))
            {
                return $"The configuration key '{key}' declares an array but does not specify the underlying type via the 'items' attribute";
            }
            if (typeName is not null && type.Children.TryGetValue(new YamlScalarNode("default"), out var @default)
                && !ValidateConfigValue(typeName, Items(type), FromYaml(@default)))
            {
                return $"The default value specified for configuration key '{key}' is not of the expected type '{FullTypeName(typeName, Items(type))}'";
            }
        }

        var missing = new List<string>();
        foreach (var (keyNode, typeNode) in projectConfig.Children.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
        {
            var key = keyNode.ToString();
            var type = (YamlMappingNode)typeNode;
            var hasDefault = type.Children.ContainsKey(new YamlScalarNode("default")) || type.Children.ContainsKey(new YamlScalarNode("value"));
            if (!stack.TryGetValue($"{projectName}:{key}", out var value))
            {
                if (!hasDefault)
                {
                    missing.Add(key);
                }
                continue;
            }
            var typeName = Scalar(type, "type");
            if (typeName is null)
            {
                continue;
            }
            if (Scalar(type, "secret") == "true" && !value.Secure)
            {
                return $"Stack '{stackName}' with configuration key '{key}' must be encrypted as it's secret";
            }
            if (!ValidateConfigValue(typeName, Items(type), value.Value))
            {
                return $"Stack '{stackName}' with configuration key '{key}' must be of type '{FullTypeName(typeName, Items(type))}'";
            }
        }
        if (missing.Count == 0)
        {
            return null;
        }
        // config.go formatMissingKeys: one key quoted; more sorted, "'a', 'b' and 'c'".
        missing.Sort(StringComparer.Ordinal);
        var keys = missing.Count == 1 ? $"'{missing[0]}'" : string.Join(", ", missing.SkipLast(1).Select(k => $"'{k}'")) + $" and '{missing[^1]}'";
        return $"Stack '{stackName}' is missing configuration {(missing.Count == 1 ? "value" : "values")} {keys}";
    }

    /// <summary>A stack file's config, as the CLI reads it (secure: values under `secure:`).</summary>
    public static Dictionary<string, StackValue> StackFile(string path)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(path)));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var result = new Dictionary<string, StackValue>(StringComparer.Ordinal);
        if (root.Children.TryGetValue(new YamlScalarNode("config"), out var config))
        {
            foreach (var (key, value) in ((YamlMappingNode)config).Children)
            {
                var secure = value is YamlMappingNode m && m.Children.Count == 1 && m.Children.ContainsKey(new YamlScalarNode("secure"));
                result[key.ToString()] = new StackValue(secure ? "ciphertext" : value is YamlScalarNode scalar ? scalar.Value ?? "" : FromYaml(value), secure);
            }
        }
        return result;
    }

    /// <summary>
    /// Applies one `pulumi config set` command line as the CLI stores it: `--secret` (or a value
    /// read from stdin with it) secure, `--path 'k[0]'` a list, an unqualified key in the project's
    /// namespace. Values given as shell expansions stand as placeholder text.
    /// </summary>
    public static void ConfigSet(Dictionary<string, StackValue> stack, string projectName, string commandLine)
    {
        var set = commandLine[(commandLine.IndexOf("pulumi config set", StringComparison.Ordinal) + "pulumi config set".Length)..];
        var words = Regex.Matches(set, "\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|\\S+").Select(m => m.Value.Trim('"', '\'')).ToList();
        var secure = words.Remove("--secret");
        var path = words.Remove("--path");
        var key = words[0];
        var value = words.Count > 1 ? words[1] : "from-stdin";
        if (!key.Contains(':', StringComparison.Ordinal))
        {
            key = $"{projectName}:{key}";
        }
        if (path && Regex.Match(key, @"^(.*)\[(\d+)\]$") is { Success: true } index)
        {
            var list = stack.TryGetValue(index.Groups[1].Value, out var existing) && existing.Value is List<object> l ? l : [];
            var at = int.Parse(index.Groups[2].Value, CultureInfo.InvariantCulture);
            while (list.Count <= at)
            {
                list.Add("");
            }
            list[at] = value;
            stack[index.Groups[1].Value] = new StackValue(list, secure);
            return;
        }
        stack[key] = new StackValue(value, secure);
    }

    private static bool ValidateConfigValue(string typeName, YamlMappingNode? items, object value) => typeName switch
    {
        "string" => value is string,
        "integer" => value is long or int || (value is double d && d == Math.Truncate(d)) || (value is string s && int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)),
        "boolean" => value is bool || value is "true" or "false",
        "object" => value is Dictionary<string, object>,
        _ => value is List<object> list && items is not null && list.All(item => ValidateConfigValue(Scalar(items, "type") ?? "", Items(items), item)),
    };

    private static string FullTypeName(string typeName, YamlMappingNode? items) =>
        items is null ? typeName : $"array<{FullTypeName(Scalar(items, "type") ?? "", Items(items))}>";

    private static YamlMappingNode? Items(YamlMappingNode type) =>
        type.Children.TryGetValue(new YamlScalarNode("items"), out var items) ? (YamlMappingNode)items : null;

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode scalar ? scalar.Value : null;

    /// <summary>
    /// A YAML value as Go's YAML decoder gives it to ValidateConfigValue for a default in
    /// Pulumi.yaml: plain scalars typed (int, float, bool, string), lists, maps. In a stack file a
    /// plain scalar is text (config.Value), which <see cref="StackFile"/> keeps.
    /// </summary>
    private static object FromYaml(YamlNode node) => node switch
    {
        YamlSequenceNode seq => seq.Children.Select(FromYaml).ToList(),
        YamlMappingNode map => map.Children.ToDictionary(kv => kv.Key.ToString(), kv => FromYaml(kv.Value)),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } s when long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } s => s.Value == "true",
        YamlScalarNode s => s.Value ?? "",
        _ => "",
    };
}
