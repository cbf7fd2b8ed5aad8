using System.Security.Cryptography;
using DoK8sHa.Config;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// A release's downloads made of the test stand-ins, laid out as their projects publish them, each
/// at its URL's path under a document root (dl.k8s.io's /release/v…/bin/linux/amd64/&lt;binary&gt;,
/// GitHub's /&lt;org&gt;/&lt;repo&gt;/releases/download/…): kubeadm the kubeadm stand-in of that
/// release; the kubelet its stand-in with the fake control plane beside it (one file that unpacks
/// them on first run, as the stand-in needs them in one folder); kubectl this machine's real client;
/// containerd's tarball bin/containerd (the containerd stand-in of that release) and
/// bin/containerd-shim-runc-v2; runc; crictl's tarball crictl; the CNI plugins' tarball the
/// plugins with LICENSE and README.md beside them (as their releases hold them).
/// </summary>
public static class StandInReleases
{
    /// <summary>Writes every file of <paramref name="releases"/> under <paramref name="root"/>; returns each one's sha256 by name (releaseChecksums).</summary>
    public static Dictionary<string, string> Build(string root, NodeReleases releases)
    {
        var scratch = Directory.CreateTempSubdirectory("do-k8s-ha-release-").FullName;
        try
        {
            var sums = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var artefact in releases.Artefacts)
            {
                var path = Path.Combine(root, new Uri(artefact.Url).AbsolutePath.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                // A file at the same path is the same release's (two Kubernetes releases share a runtime).
                if (!File.Exists(path))
                {
                    Make(artefact, path, Path.Combine(scratch, artefact.Name));
                }
                sums[artefact.Name] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();
            }
            return sums;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static string StandIn(string name) => File.ReadAllText(Repo.Path("tests", "Support", "standins", name));

    private static void Make(ReleaseArtefact artefact, string path, string scratch)
    {
        Directory.CreateDirectory(scratch);
        switch (artefact.Name)
        {
            case "kubeadm":
                // A build carries its own release (the stand-in's default when the environment names none).
                Executable(path, StandIn("kubeadm").Replace("${KUBEADM_STAND_IN_VERSION:-v1.35.1}", $"${{KUBEADM_STAND_IN_VERSION:-v{artefact.Version}}}", StringComparison.Ordinal));
                break;
            case "kubelet":
                Executable(Path.Combine(scratch, "kubelet"), StandIn("kubelet").Replace("${KUBELET_STAND_IN_VERSION:-v1.35.1}", $"${{KUBELET_STAND_IN_VERSION:-v{artefact.Version}}}", StringComparison.Ordinal));
                File.WriteAllText(Path.Combine(scratch, "fake-kube-apiserver.py"), StandIn("fake-kube-apiserver.py"));
                File.WriteAllText(Path.Combine(scratch, "fake-kube-controllers.py"), StandIn("fake-kube-controllers.py"));
                var bundle = Path.Combine(scratch, "..", "kubelet-bundle.tar.gz");
                Must("tar", ["-czf", bundle, "-C", scratch, "."]);
                var payload = Convert.ToBase64String(File.ReadAllBytes(bundle));
                var id = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(bundle)))[..12].ToLowerInvariant();
                Executable(path, $"""
                    #!/usr/bin/env bash
                    # The kubelet stand-in and its fake control plane, unpacked once beside each other.
                    set -euo pipefail
                    dir=/usr/local/lib/kubelet-stand-in-{id}
                    if [ ! -x "$dir/kubelet" ]; then
                      mkdir -p "$dir.tmp"
                      base64 -d <<'PAYLOAD' | tar -xz -C "$dir.tmp"
                    {payload}
                    PAYLOAD
                      mv -T "$dir.tmp" "$dir" 2>/dev/null || rm -rf "$dir.tmp"
                    fi
                    exec "$dir/kubelet" "$@"

                    """);
                break;
            case "kubectl":
                var kubectl = Directory.GetFiles("/usr/lib/google-cloud-sdk/bin", "kubectl.1.*").Order(StringComparer.Ordinal).LastOrDefault() ?? Repo.Which("kubectl");
                if (kubectl is null)
                {
                    Executable(path, "#!/usr/bin/env bash\necho \"kubectl: this machine has no kubectl client\" >&2\nexit 1\n");
                }
                else
                {
                    File.Copy(kubectl, path, overwrite: true);
                }
                break;
            case "containerd":
                Directory.CreateDirectory(Path.Combine(scratch, "bin"));
                Executable(Path.Combine(scratch, "bin", "containerd"), StandIn("containerd").Replace("\"CONTAINERD_STAND_IN_VERSION\"", $"\"{artefact.Version}\"", StringComparison.Ordinal));
                Executable(Path.Combine(scratch, "bin", "containerd-shim-runc-v2"), $"#!/usr/bin/env bash\necho \"containerd-shim-runc-v2 github.com/containerd/containerd/v2 v{artefact.Version}\"\n");
                Must("tar", ["-czf", path, "-C", scratch, "bin"]);
                break;
            case "runc":
                Executable(path, $"#!/usr/bin/env bash\necho \"runc version {artefact.Version}\"\n");
                break;
            case "crictl":
                Executable(Path.Combine(scratch, "crictl"), StandIn("crictl"));
                Must("tar", ["-czf", path, "-C", scratch, "crictl"]);
                break;
            case "cni":
                foreach (var plugin in new[] { "bridge", "host-local", "loopback", "portmap" })
                {
                    Executable(Path.Combine(scratch, plugin), $"#!/usr/bin/env bash\necho \"CNI {plugin} plugin v{artefact.Version}\"\n");
                }
                File.WriteAllText(Path.Combine(scratch, "LICENSE"), "Apache License 2.0\n");
                File.WriteAllText(Path.Combine(scratch, "README.md"), "CNI plugins\n");
                Must("tar", ["-czf", path, "-C", scratch, "."]);
                break;
            default:
                throw new ArgumentException($"no stand-in for {artefact.Name}");
        }
    }

    private static void Executable(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        }
    }

    private static void Must(string tool, string[] args)
    {
        var (exit, stdout, stderr) = Repo.Run(tool, args, timeoutSeconds: 120);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)}: {stdout}{stderr}");
        }
    }
}
