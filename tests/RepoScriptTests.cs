using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>The scripts kept in the repository (not rendered by the program): shellcheck and their bats tests.</summary>
public class RepoScriptTests
{
    public static IEnumerable<string> Scripts => ["scripts/failover-drill.sh", "scripts/mutation-score.sh", ".ci/run"];

    [TestCaseSource(nameof(Scripts))]
    public void IsShellcheckClean(string path)
    {
        Repo.RequireTool("shellcheck", "apt-get install shellcheck");
        var (exit, stdout, stderr) = Repo.Run("shellcheck", ["--shell=bash", Repo.Path(path)]);
        Assert.That(exit, Is.Zero, $"{stdout}{stderr}");
    }

    [Test]
    public void FailoverDrillBehavesAsTheSeedExperiment()
    {
        Repo.RequireTool("bats", "apt-get install bats");
        var (exit, stdout, stderr) = Repo.Run("bats", [Repo.Path("tests", "bats", "failover-drill.bats")], timeoutSeconds: 120);
        Assert.That(exit, Is.Zero, $"{stdout}{stderr}");
        Assert.That(stdout, Does.Contain("1..4").And.Not.Contains("not ok"));
    }

    [Test]
    public void MutationScoreMergesRunsByFileAndPrintsTheScoreLast()
    {
        Repo.RequireTool("bats", "apt-get install bats");
        Repo.RequireTool("jq", "apt-get install jq");
        var (exit, stdout, stderr) = Repo.Run("bats", [Repo.Path("tests", "bats", "mutation-score.bats")], timeoutSeconds: 120);
        Assert.That(exit, Is.Zero, $"{stdout}{stderr}");
        Assert.That(stdout, Does.Contain("1..4").And.Not.Contains("not ok"));
    }
}
