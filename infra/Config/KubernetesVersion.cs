using System.Globalization;
using System.Text.RegularExpressions;

namespace DoK8sHa.Config;

/// <summary>A pinned Kubernetes release, MAJOR.MINOR.PATCH.</summary>
public sealed partial record KubernetesVersion(int Major, int Minor, int Patch)
{
    public override string ToString() => $"{Major}.{Minor}.{Patch}";

    public bool IsOlderThan(KubernetesVersion other) =>
        (Major, Minor, Patch).CompareTo((other.Major, other.Minor, other.Patch)) < 0;

    public static bool TryParse(string text, out KubernetesVersion version)
    {
        version = null!;
        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }
        version = new KubernetesVersion(
            int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
        return true;
    }

    // [0-9], not \d: \d matches every Unicode digit, which int.Parse then refuses.
    [GeneratedRegex(@"\A([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\z")]
    private static partial Regex Pattern();
}
