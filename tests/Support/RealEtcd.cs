namespace DoK8sHa.Tests.Support;

/// <summary>The etcd on this machine (Debian's): the rendered config must be the one for its release.</summary>
public static class RealEtcd
{
    private static readonly Lazy<string> LazyVersion = new(() =>
    {
        var (exit, stdout, stderr) = Repo.Run("etcd", ["--version"]);
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("etcd Version: ", StringComparison.Ordinal));
        return exit == 0 && line is not null ? line["etcd Version: ".Length..].Trim() : throw new InvalidOperationException($"etcd --version: {stderr}");
    });

    /// <summary>MAJOR.MINOR.PATCH of the installed etcd, e.g. 3.4.23.</summary>
    public static string Version => LazyVersion.Value;
}
