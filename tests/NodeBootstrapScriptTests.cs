using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// node-bootstrap.sh, what cloud-init runs at first boot, run for real in a private mount
/// namespace whose /etc and /var/lib/do-k8s-ha are the test's own folders (kept between runs; a
/// whole /etc, as sed -i replaces /etc/fstab by renaming a file next to it), against stand-ins for apt-get,
/// swapoff, modprobe, sysctl, systemctl and containerd. `containerd config default` prints
/// containerd 1.7's default, whose runc options say SystemdCgroup = false
/// (containerd pkg/cri/config/config_unix.go, DefaultConfig).
/// </summary>
[NonParallelizable]
public class NodeBootstrapScriptTests
{
    private static readonly string[] Folders = ["/etc/containerd", "/etc/modules-load.d", "/etc/sysctl.d", "/var/lib/do-k8s-ha"];

    /// <summary>The folders mounted over the node's: everything the script writes is inside them.</summary>
    private static readonly string[] Mounted = ["/etc", "/var/lib/do-k8s-ha"];
    private StubbedNode _node = null!;

    [SetUp]
    public void Node()
    {
        _node = new StubbedNode();
        foreach (var folder in Folders)
        {
            Directory.CreateDirectory(Path.Combine(_node.Dir, "root", folder.TrimStart('/')));
        }
        File.WriteAllText(Root("/etc/fstab"), "LABEL=cloudimg-rootfs / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n");
        foreach (var tool in new[] { "swapoff", "modprobe", "sysctl", "systemctl" })
        {
            _node.Stub(tool);
        }
        // apt-get fails when told to (a mirror down), as apt-get exits 100 on a failed fetch.
        _node.Stub("apt-get", """[ ! -f "$STATE/apt-fails" ] || { echo "E: Failed to fetch" >&2; exit 100; }""");
        _node.Stub("containerd", """
            [ "$*" = "config default" ] || exit 2
            cat <<'TOML'
            version = 2
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
              SystemdCgroup = false
            TOML
            """);
    }

    [TearDown]
    public void Cleanup() => _node?.Dispose();

    private string Root(string path) => Path.Combine(_node.Dir, "root", path.TrimStart('/'));

    private (int Exit, string Output) Boot() => _node.Run(Render.NodeBootstrap(), scratch: [], prepare:
        string.Join("\n", Mounted.Select(f => $"mkdir -p {f} && mount --bind {Root(f)} {f}")));

    [Test]
    public void ItPreparesAnyNodeForKubernetesAndLeavesTheMarkerLast()
    {
        var (exit, output) = Boot();

        Assert.That(exit, Is.Zero, output);
        Assert.That(File.ReadAllText(Root("/etc/fstab")), Is.EqualTo("LABEL=cloudimg-rootfs / ext4 defaults 0 1\n#/swapfile none swap sw 0 0\n"), "swap off for good, nothing else touched");
        Assert.That(File.ReadAllText(Root("/etc/modules-load.d/kubernetes.conf")), Is.EqualTo("overlay\nbr_netfilter\n"));
        Assert.That(File.ReadAllText(Root("/etc/sysctl.d/99-kubernetes.conf")), Does.Contain("net.ipv4.ip_forward = 1").And.Contain("net.bridge.bridge-nf-call-iptables = 1"));
        Assert.That(File.ReadAllText(Root("/etc/containerd/config.toml")), Does.Contain("SystemdCgroup = true").And.Not.Contain("SystemdCgroup = false"), "kubelet's systemd cgroup driver");
        Assert.That(File.Exists(Root("/var/lib/do-k8s-ha/bootstrapped")), Is.True);
        var log = _node.Log;
        Assert.That(log, Does.Contain("swapoff -a").And.Contain("modprobe br_netfilter").And.Contain("sysctl --system"));
        Assert.That(log, Does.Contain("apt-get -o DPkg::Lock::Timeout=600 install -y -q apt-transport-https ca-certificates curl gpg jq containerd nginx libnginx-mod-stream"));
        Assert.That(log, Does.Contain("systemctl disable --now nginx"), "only the API proxy unit runs nginx");
        Assert.That(log.IndexOf("containerd config default", StringComparison.Ordinal), Is.LessThan(log.IndexOf("systemctl restart containerd", StringComparison.Ordinal)), "containerd restarts with its new config");
    }

    [Test]
    public void RunningItAgainChangesNothingItMadeAndKeepsAnEditedContainerdConfig()
    {
        Assert.That(Boot().Exit, Is.Zero);
        File.AppendAllText(Root("/etc/containerd/config.toml"), "# an operator's edit\n");
        var fstab = File.ReadAllText(Root("/etc/fstab"));

        var (exit, output) = Boot();

        Assert.That(exit, Is.Zero, output);
        Assert.That(File.ReadAllText(Root("/etc/fstab")), Is.EqualTo(fstab), "a commented swap line is not commented twice");
        Assert.That(File.ReadAllText(Root("/etc/containerd/config.toml")), Does.EndWith("# an operator's edit\n"), "a config already on the systemd driver is kept");
        Assert.That(_node.Log.Split('\n').Count(l => l == "containerd config default"), Is.EqualTo(1));
    }

    [Test]
    public void AFailedInstallStopsTheBootWithoutTheMarker()
    {
        File.WriteAllText(_node.StatePath("apt-fails"), "");

        var (exit, output) = Boot();

        Assert.That(exit, Is.EqualTo(100), output);
        Assert.That(output, Does.Contain("E: Failed to fetch"));
        Assert.That(File.Exists(Root("/var/lib/do-k8s-ha/bootstrapped")), Is.False, "wait-for-bootstrap.sh must not find a node ready that is not");
    }
}
