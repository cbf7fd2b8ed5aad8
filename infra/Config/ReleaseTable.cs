using System.Reflection;
using System.Text.Json;

namespace DoK8sHa.Config;

/// <summary>One file a node downloads, and the checksum it must have.</summary>
/// <param name="Name">What it is: kubeadm, kubelet, kubectl, containerd, runc, crictl or cni.</param>
public sealed record ReleaseArtefact(string Name, string Version, string Url, string Sha256);

/// <summary>
/// What a Kubernetes node runs for one Kubernetes release: kubeadm, kubelet and kubectl of that
/// release, and the container runtime the table pairs with its minor (containerd 2.x, runc,
/// crictl, the CNI plugins), each with its sha256.
/// </summary>
public sealed record NodeReleases(KubernetesVersion Kubernetes, IReadOnlyList<ReleaseArtefact> Artefacts)
{
    public ReleaseArtefact this[string name] => Artefacts.Single(a => a.Name == name);

    /// <summary>The containerd release; an upgrade moves a node's containerd when it differs.</summary>
    public string Containerd => this["containerd"].Version;
}

/// <summary>
/// The checksum table (infra/Config/releases.json): every Kubernetes release the program installs,
/// by the sha256 of each file a node downloads, amd64. The checksums are those Kubespray keeps
/// (roles/kubespray_defaults/vars/main/checksums.yml, which its updater takes from each release's
/// own .sha256 files), and for a minor Kubespray does not hold yet those kOps generates from each
/// release's SHA256SUMS (pkg/assets/assetdata/k8s-1.N.yaml); the file names both commits. A node
/// never runs a file whose checksum the table (or the stack's releaseChecksums) does not give.
/// </summary>
public static class ReleaseTable
{
    /// <summary>The Kubernetes binaries, from dl.k8s.io (the release bucket every install doc names).</summary>
    public static IReadOnlyList<string> KubernetesBinaries { get; } = ["kubeadm", "kubelet", "kubectl"];

    /// <summary>The container runtime's files, paired with a Kubernetes minor by the table.</summary>
    public static IReadOnlyList<string> RuntimeFiles { get; } = ["containerd", "runc", "crictl", "cni"];

    private static readonly Lazy<Table> Data = new(Load);

    /// <summary>Every Kubernetes release the table holds checksums for, oldest first.</summary>
    public static IReadOnlyList<KubernetesVersion> Versions => Data.Value.Versions;

    /// <summary>The newest release of the table: the default kubernetesVersion.</summary>
    public static KubernetesVersion Newest => Data.Value.Versions[^1];

    /// <summary>The minors the program supports: upstream supports the three newest (Kubernetes release policy).</summary>
    public static IReadOnlyList<(int Major, int Minor)> Minors => Data.Value.Minors;

    /// <summary>Where the table's checksums come from.</summary>
    public static string Source => Data.Value.Source;

    public static bool Holds(KubernetesVersion version) => Data.Value.Kubernetes.ContainsKey(version.ToString());

    /// <summary>
    /// The files of a release, their checksums from the table, or from <paramref name="overrides"/>
    /// (releaseChecksums: a name's checksum for the version the stack pins). A release the table
    /// lacks takes the runtime of the table's newest minor. Null: a checksum is missing.
    /// </summary>
    public static NodeReleases? For(KubernetesVersion version, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var table = Data.Value;
        overrides ??= new Dictionary<string, string>();
        table.Kubernetes.TryGetValue(version.ToString(), out var binaries);
        var runtime = table.Runtime.TryGetValue($"{version.Major}.{version.Minor}", out var paired) ? paired : table.Runtime[$"{Newest.Major}.{Newest.Minor}"];
        var artefacts = new List<ReleaseArtefact>();
        foreach (var name in KubernetesBinaries)
        {
            var sha = overrides.GetValueOrDefault(name) ?? binaries?.GetValueOrDefault(name);
            if (sha is null)
            {
                return null;
            }
            artefacts.Add(new ReleaseArtefact(name, version.ToString(), $"https://dl.k8s.io/release/v{version}/bin/linux/amd64/{name}", sha));
        }
        foreach (var name in RuntimeFiles)
        {
            var v = runtime[name];
            var sha = overrides.GetValueOrDefault(name) ?? table.Files[name].GetValueOrDefault(v);
            if (sha is null)
            {
                return null;
            }
            artefacts.Add(new ReleaseArtefact(name, v, RuntimeUrl(name, v), sha));
        }
        return new NodeReleases(version, artefacts);
    }

    /// <summary>The table's own checksum of a file, or null.</summary>
    public static string? TableSha256(string name, string version) =>
        KubernetesBinaries.Contains(name)
            ? Data.Value.Kubernetes.GetValueOrDefault(version)?.GetValueOrDefault(name)
            : Data.Value.Files.GetValueOrDefault(name)?.GetValueOrDefault(version);

    // Each project's own release assets (GitHub releases), as their install docs name them.
    private static string RuntimeUrl(string name, string v) => name switch
    {
        "containerd" => $"https://github.com/containerd/containerd/releases/download/v{v}/containerd-{v}-linux-amd64.tar.gz",
        "runc" => $"https://github.com/opencontainers/runc/releases/download/v{v}/runc.amd64",
        "crictl" => $"https://github.com/kubernetes-sigs/cri-tools/releases/download/v{v}/crictl-v{v}-linux-amd64.tar.gz",
        "cni" => $"https://github.com/containernetworking/plugins/releases/download/v{v}/cni-plugins-linux-amd64-v{v}.tgz",
        _ => throw new ArgumentException($"no release file named {name}", nameof(name)),
    };

    private sealed record Table(
        string Source,
        IReadOnlyDictionary<string, Dictionary<string, string>> Kubernetes,
        IReadOnlyDictionary<string, Dictionary<string, string>> Runtime,
        IReadOnlyDictionary<string, Dictionary<string, string>> Files,
        IReadOnlyList<KubernetesVersion> Versions,
        IReadOnlyList<(int, int)> Minors);

    private static Table Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("data/releases.json")
            ?? throw new InvalidOperationException("the checksum table (data/releases.json) is not embedded");
        using var json = JsonDocument.Parse(stream);
        var root = json.RootElement;
        static Dictionary<string, Dictionary<string, string>> Map(JsonElement e) =>
            e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateObject().ToDictionary(q => q.Name, q => q.Value.GetString()!, StringComparer.Ordinal), StringComparer.Ordinal);
        var kubernetes = Map(root.GetProperty("kubernetes"));
        var runtime = Map(root.GetProperty("runtime"));
        var files = RuntimeFiles.ToDictionary(f => f, f => root.GetProperty(f).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal), StringComparer.Ordinal);
        var versions = kubernetes.Keys.Select(k => KubernetesVersion.TryParse(k, out var v) ? v : throw new InvalidOperationException($"releases.json: '{k}' is not a version"))
            .OrderBy(v => (v.Major, v.Minor, v.Patch)).ToList();
        var minors = versions.Select(v => (v.Major, v.Minor)).Distinct().ToList();
        return new Table(root.GetProperty("source").GetString()!, kubernetes, runtime, files, versions, minors);
    }
}
