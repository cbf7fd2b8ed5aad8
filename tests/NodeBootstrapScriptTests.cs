using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// node-bootstrap.sh, what cloud-init runs at first boot, run for real in a private mount
/// namespace whose /etc and /var/lib/do-k8s-ha are the test's own folders (kept between runs; a
/// whole /etc, as sed -i replaces /etc/fstab by renaming a file next to it), against stand-ins for apt-get,
/// swapoff, modprobe, sysctl and systemctl. It installs nothing that depends on the Kubernetes
/// release: the releases step fetches those beside it.
/// </summary>
[NonParallelizable]
public class NodeBootstrapScriptTests
{
    private static readonly string[] Folders = ["/etc/modules-load.d", "/etc/sysctl.d", "/var/lib/do-k8s-ha"];

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
        Assert.That(File.Exists(Root("/var/lib/do-k8s-ha/bootstrapped")), Is.True);
        var log = _node.Log;
        Assert.That(log, Does.Contain("swapoff -a").And.Contain("modprobe br_netfilter").And.Contain("sysctl --system"));
        // nftables for the metadata guard, whose step then only loads its table (metadata-guard.sh).
        Assert.That(log, Does.Contain("apt-get -o DPkg::Lock::Timeout=600 install -y -q ca-certificates curl jq nginx libnginx-mod-stream nftables"));
        Assert.That(log, Does.Contain("systemctl disable --now nginx"), "only the API proxy unit runs nginx");
        // No package that depends on the release: the releases step fetches the runtime and Kubernetes.
        Assert.That(log, Does.Not.Contain("containerd").And.Not.Contain("kube"));
    }

    [Test]
    public void RunningItAgainChangesNothingItMade()
    {
        Assert.That(Boot().Exit, Is.Zero);
        var fstab = File.ReadAllText(Root("/etc/fstab"));

        var (exit, output) = Boot();

        Assert.That(exit, Is.Zero, output);
        Assert.That(File.ReadAllText(Root("/etc/fstab")), Is.EqualTo(fstab), "a commented swap line is not commented twice");
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
