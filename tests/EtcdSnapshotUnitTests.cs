using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>The snapshot's service and timer as etcd-snapshots.sh writes them, judged by systemd's own offline analysis.</summary>
public class EtcdSnapshotUnitTests
{
    [Test]
    public void SystemdKnowsEveryDirectiveAndRatesTheSnapshotSandboxLowExposure()
    {
        Repo.RequireTool("systemd-analyze", "apt-get install systemd");
        var dir = Directory.CreateTempSubdirectory("do-k8s-ha-unit-").FullName;
        try
        {
            var path = Path.Combine(dir, "etcd-snapshot.service");
            File.WriteAllText(path, Render.EtcdSnapshotService() + "\n");
            // A root service with no sandbox rates 9.6; --threshold counts tenths (analyze-security.c).
            var (exit, stdout, stderr) = Repo.Run("systemd-analyze", ["security", "--offline=true", "--threshold=20", "--no-pager", path]);
            Assert.That(stderr, Does.Not.Contain("Unknown key").And.Not.Contain("Unknown lvalue").And.Not.Contain("Failed to parse"), stderr);
            Assert.That(exit, Is.Zero, $"exposure over 2:\n{stdout}{stderr}");
            Assert.That(stdout, Does.Contain("Overall exposure level for etcd-snapshot.service"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase(1)]
    [TestCase(6)]
    [TestCase(168)]
    public void TheTimersPeriodIsATimespanSystemdReads(int hours)
    {
        Repo.RequireTool("systemd-analyze", "apt-get install systemd");
        var timer = Render.EtcdSnapshotTimer(hours);
        var period = timer.Split('\n').Single(l => l.StartsWith("OnUnitActiveSec=", StringComparison.Ordinal))["OnUnitActiveSec=".Length..];
        var (exit, stdout, stderr) = Repo.Run("systemd-analyze", ["timespan", period]);
        Assert.That(exit, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain($"μs: {(long)hours * 3600 * 1_000_000}"));
        Assert.That(timer, Does.Contain("WantedBy=timers.target"));
    }
}
