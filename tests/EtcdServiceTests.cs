using System.Text.RegularExpressions;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// etcd's systemd unit as etcd-service.sh writes it, judged by systemd's own offline analysis:
/// every directive known to systemd, and the sandbox's exposure score low.
/// </summary>
public class EtcdServiceTests
{
    /// <summary>The unit the script writes, with the script's variables filled in as bash would.</summary>
    private static string Unit()
    {
        var script = Render.EtcdService("10.240.0.2");
        var unit = Regex.Match(script, @"<<UNIT\n(.*?)\nUNIT\n", RegexOptions.Singleline).Groups[1].Value;
        Assert.That(unit, Is.Not.Empty);
        return unit.Replace("${CONFIG}", Render.EtcdConfigFile, StringComparison.Ordinal).Replace("${DATA_DIR}", Render.EtcdDataDir, StringComparison.Ordinal);
    }

    [Test]
    public void EtcdRunsAsItsOwnUserWritingOnlyItsData()
    {
        var service = Unit().Split('\n').SkipWhile(l => l != "[Service]").TakeWhile(l => l != "[Install]").ToList();
        Assert.That(service, Does.Contain("User=etcd").And.Contain("Group=etcd").And.Contain("NoNewPrivileges=true")
            .And.Contain("ProtectSystem=strict").And.Contain($"ReadWritePaths={Render.EtcdDataDir}").And.Contain("CapabilityBoundingSet="));
    }

    [Test]
    public void SystemdKnowsEveryDirectiveAndRatesTheSandboxLowExposure()
    {
        Repo.RequireTool("systemd-analyze", "apt-get install systemd");
        var dir = Directory.CreateTempSubdirectory("do-k8s-ha-unit-").FullName;
        try
        {
            var path = Path.Combine(dir, "etcd.service");
            File.WriteAllText(path, Unit());
            // 0 is fully locked down, 10 is unprotected; a root service with no sandbox is 9.6.
            // --threshold counts tenths (systemd analyze-security.c: exposure is kept ×10).
            var (exit, stdout, stderr) = Repo.Run("systemd-analyze", ["security", "--offline=true", "--threshold=20", "--no-pager", path]);
            Assert.That(stderr, Does.Not.Contain("Unknown key").And.Not.Contain("Unknown lvalue").And.Not.Contain("Failed to parse"), stderr);
            Assert.That(exit, Is.Zero, $"exposure over 2:\n{stdout}{stderr}");
            Assert.That(stdout, Does.Contain("Overall exposure level for etcd.service"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
