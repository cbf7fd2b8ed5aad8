using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The metadata guard's files as the tools that read them judge them. What the rules do to a
/// pod's packets is DeliveredStepTests.APodCannotReachTheMetadataServiceAndTheNodeStillCanAfterAReboot.
/// </summary>
public class MetadataGuardTests
{
    private static string Unit() =>
        string.Join('\n', Render.MetadataGuard().Split('\n').SkipWhile(l => !l.Contains("<<'UNIT'", StringComparison.Ordinal)).Skip(1).TakeWhile(l => l != "UNIT")) + "\n";

    [Test]
    public void SystemdReadsTheUnitAndItsCommandExists()
    {
        Repo.RequireTool("systemd-analyze", "apt-get install systemd");
        Repo.RequireTool("nft", "apt-get install nftables");
        var dir = Directory.CreateTempSubdirectory("do-k8s-ha-guard-").FullName;
        try
        {
            var path = Path.Combine(dir, "do-k8s-ha-metadata-guard.service");
            File.WriteAllText(path, Unit());
            var (exit, stdout, stderr) = Repo.Run("systemd-analyze", ["verify", path]);
            Assert.That(exit, Is.Zero, stdout + stderr);
            Assert.That(stdout + stderr, Is.Empty, "no warning");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TheUnitLoadsTheRulesBeforeAnyPodCanStart()
    {
        var unit = Unit();
        Assert.That(unit, Does.Contain("ExecStart=/usr/sbin/nft -f /etc/do-k8s-ha/metadata-guard.nft"));
        var before = unit.Split('\n').Single(l => l.StartsWith("Before=", StringComparison.Ordinal));
        Assert.That(before, Does.Contain("containerd.service").And.Contain("kubelet.service"));
        Assert.That(unit, Does.Contain("WantedBy=sysinit.target"));
    }

    [Test]
    public void NftAcceptsTheRules()
    {
        Repo.RequireTool("nft", "apt-get install nftables");
        var (exit, _, stderr) = Repo.Run("nft", ["-c", "-f", "-"], stdin: Render.MetadataGuardRules());
        Assert.That(exit, Is.Zero, stderr);
    }
}
