namespace DoK8sHa.Tests.Support;

/// <summary>
/// Test hosts that act as cluster nodes: each runs rendered scripts in its own network namespace
/// and, per run, a private mount namespace where the node's system folders (/etc/kubernetes,
/// /etc/systemd/system, /run…) are folders of that host kept across runs, so a second run sees
/// what the first left, as on a droplet. The stand-ins in tests/Support/standins (kubeadm,
/// systemctl, the fake kube-apiserver) come first on PATH; every other tool is the real one.
/// Processes the stand-ins start (API servers, nginx) run in the host's namespace until
/// <see cref="Reset"/> or dispose.
/// </summary>
public sealed class NodeHosts : IDisposable
{
    /// <summary>The node folders each host keeps, mounted over the system's own.</summary>
    private static readonly string[] NodeFolders =
        ["/etc/kubernetes", "/var/lib/do-k8s-ha", "/etc/systemd/system", "/etc/kube-apiserver-proxy", "/run", "/var/log/kubernetes"];

    private NodeHosts(TestHosts hosts) => Hosts = hosts;

    public TestHosts Hosts { get; }

    public TestHost this[int index] => Hosts[index];

    public static NodeHosts Create(int count)
    {
        foreach (var (tool, package) in new[] { ("unshare", "util-linux"), ("nginx", "nginx libnginx-mod-stream"), ("jq", "jq"), ("openssl", "openssl"), ("python3", "python3"), ("kubectl", "kubectl") })
        {
            Repo.RequireTool(tool, $"apt-get install {package}");
        }
        var hosts = new NodeHosts(TestHosts.Create(count));
        foreach (var host in hosts.Hosts.Hosts)
        {
            hosts.Prepare(host);
        }
        return hosts;
    }

    /// <summary>What the stand-ins on the host were called with, one call a line.</summary>
    public string Log(TestHost host) => ReadOrEmpty(State(host, "log"));

    public string State(TestHost host, string name) => Path.Combine(host.Dir, "state", name);

    /// <summary>A file of the node as its scripts see it, e.g. /etc/kubernetes/kubelet.conf.</summary>
    public string NodeFile(TestHost host, string path)
    {
        var folder = NodeFolders.First(f => path.StartsWith(f + "/", StringComparison.Ordinal));
        return Path.Combine(host.Dir, "node" + folder.Replace('/', '-'), path[(folder.Length + 1)..]);
    }

    /// <summary>Runs a script as root on the node; returns its exit code and stdout + stderr.</summary>
    public (int Exit, string Output) Run(TestHost host, string script, int timeoutSeconds = 120)
    {
        var file = Path.Combine(host.Dir, "script.sh");
        File.WriteAllText(file, script);
        var mounts = string.Join("\n", NodeFolders.Select(f => $"mkdir -p {f} && mount --bind {Folder(host, f)} {f}"));
        var sandbox = $"""
            set -e
            {mounts}
            export STATE={Path.Combine(host.Dir, "state")} HOME={host.Dir} PATH={Path.Combine(host.Dir, "bin")}:$PATH
            bash {file}
            """;
        var (exit, stdout, stderr) = Hosts.Exec(host, "unshare", ["--mount", "--propagation", "private", "bash", "-c", sandbox], timeoutSeconds: timeoutSeconds);
        return (exit, stdout + stderr);
    }

    /// <summary>The node's machine is replaced: what it ran stops and its folders start empty.</summary>
    public void Reset(TestHost host)
    {
        StopAll(host);
        foreach (var folder in NodeFolders)
        {
            Directory.Delete(Folder(host, folder), recursive: true);
        }
        File.Delete(State(host, "log"));
        Prepare(host);
    }

    /// <summary>Stops what the stand-ins started on the host (their PIDs are under state/pids).</summary>
    public void StopAll(TestHost host)
    {
        var pids = State(host, "pids");
        if (!Directory.Exists(pids))
        {
            return;
        }
        foreach (var file in Directory.GetFiles(pids))
        {
            if (int.TryParse(File.ReadAllText(file).Trim(), out var pid))
            {
                try
                {
                    using var process = System.Diagnostics.Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }
            File.Delete(file);
        }
    }

    public void Dispose()
    {
        foreach (var host in Hosts.Hosts)
        {
            StopAll(host);
        }
        Hosts.Dispose();
    }

    private static string Folder(TestHost host, string folder) => Path.Combine(host.Dir, "node" + folder.Replace('/', '-'));

    private void Prepare(TestHost host)
    {
        foreach (var folder in NodeFolders)
        {
            Directory.CreateDirectory(Folder(host, folder));
        }
        Directory.CreateDirectory(State(host, "pids"));
        var bin = Directory.CreateDirectory(Path.Combine(host.Dir, "bin")).FullName;
        foreach (var standIn in Directory.GetFiles(Repo.Path("tests", "Support", "standins")))
        {
            TestHosts.InstallStandIn(standIn, bin);
        }
    }

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}
