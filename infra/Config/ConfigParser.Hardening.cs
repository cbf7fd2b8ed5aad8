using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DoK8sHa.Config;

/// <summary>The hardening keys: Pod Security defaults, the audit log, the Secrets encryption keys.</summary>
public static partial class ConfigParser
{
    private static string[] PodSecurityLevels => ["privileged", "baseline", "restricted"];

    private static HardeningSettings ParseHardening(Func<string, string?> get, Action<string, string, string> problem)
    {
        string Level(string key, string fallback)
        {
            var value = get(key)?.Trim() is { Length: > 0 } v ? v : fallback;
            if (!PodSecurityLevels.Contains(value))
            {
                problem(key, $"'{value}' is not a Pod Security level", $"use one of {string.Join(", ", PodSecurityLevels)} (default {fallback})");
            }
            return value;
        }
        var exempt = StringList(get, "podSecurityExemptNamespaces", ConfigDefaults.PodSecurityExemptNamespaces, DnsLabel(), "a namespace name", problem, allowEmpty: true);
        var podSecurity = new PodSecuritySettings(
            Level("podSecurityEnforce", ConfigDefaults.PodSecurityEnforce),
            Level("podSecurityWarn", ConfigDefaults.PodSecurityWarn),
            Level("podSecurityAudit", ConfigDefaults.PodSecurityAudit),
            exempt);

        var audit = new AuditLogSettings(
            Count(get, problem, "auditLogMaxAgeDays", ConfigDefaults.AuditLogMaxAgeDays, 1, 3650, "days"),
            Count(get, problem, "auditLogMaxBackups", ConfigDefaults.AuditLogMaxBackups, 1, 1000, "files"),
            Count(get, problem, "auditLogMaxSizeMb", ConfigDefaults.AuditLogMaxSizeMb, 1, 10240, "megabytes"));

        var keys = StringList(get, "secretsEncryptionKeys", ConfigDefaults.SecretsEncryptionKeys, DnsLabel(), "a key name (a DNS label)", problem, allowEmpty: false);
        return new HardeningSettings(podSecurity, audit, keys);
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; unset: <paramref name="fallback"/>.</summary>
    private static int Count(Func<string, string?> get, Action<string, string, string> problem, string key, int fallback, int min, int max, string unit)
    {
        var text = get(key)?.Trim() is { Length: > 0 } v ? v : fallback.ToString(CultureInfo.InvariantCulture);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            problem(key, $"'{text}' is not a number of {unit} from {min} to {max}", $"pulumi config set {key} {fallback}");
            return fallback;
        }
        return value;
    }

    /// <summary>A list of distinct names, each matching <paramref name="pattern"/>; the fix's example is <paramref name="example"/>, or the first of <paramref name="fallback"/>.</summary>
    private static List<string> StringList(Func<string, string?> get, string key, IReadOnlyList<string> fallback, Regex pattern, string what,
        Action<string, string, string> problem, bool allowEmpty, string? example = null)
    {
        var json = get(key);
        var fix = $"set a list, e.g. `pulumi config set --path '{key}[0]' {example ?? fallback[0]}`";
        if (string.IsNullOrWhiteSpace(json))
        {
            return [.. fallback];
        }
        var result = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                problem(key, "is not a list", fix);
                return [.. fallback];
            }
            var i = 0;
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                var text = item.ValueKind == JsonValueKind.String ? item.GetString()! : item.ToString();
                if (!pattern.IsMatch(text))
                {
                    problem($"{key}[{i}]", $"'{text}' is not {what}", "use lower-case letters, digits and '-'");
                }
                else if (result.Contains(text))
                {
                    problem($"{key}[{i}]", $"'{text}' is listed twice", "list each once");
                }
                result.Add(text);
                i++;
            }
        }
        catch (JsonException)
        {
            problem(key, "is not a list", fix);
            return [.. fallback];
        }
        if (!allowEmpty && result.Count == 0)
        {
            problem(key, "is empty", fix);
        }
        return result;
    }
}
