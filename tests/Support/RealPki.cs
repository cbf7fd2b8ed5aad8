using DoK8sHa.Scripts;

namespace DoK8sHa.Tests.Support;

/// <summary>cluster-pki.sh run once for the whole test run: real CAs, made as a user's `pulumi up` makes them.</summary>
public static class RealPki
{
    private static readonly Lazy<(string Output, ClusterPkiMaterial Material)> Generated = new(() =>
    {
        var (exit, stdout, stderr) = Repo.Run("bash", ["-c", Render.ClusterPki()]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"cluster-pki.sh failed ({exit}): {stderr}");
        }
        return (stdout, ClusterPkiMaterial.Parse(stdout));
    });

    /// <summary>What the script printed: what the local command's stdout holds.</summary>
    public static string Output => Generated.Value.Output;

    public static ClusterPkiMaterial Material => Generated.Value.Material;
}
