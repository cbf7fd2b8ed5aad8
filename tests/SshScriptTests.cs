using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// Rendered remote steps that need no kubeadm, run over real SSH on a test host the way
/// pulumi-command runs them: twice (they must be idempotent), and broken (they must say why).
/// </summary>
[NonParallelizable]
public class SshScriptTests
{
    private TestHosts _hosts = null!;
    private TestHost Client => _hosts[0];
    private TestHost Node => _hosts[1];

    [SetUp]
    public void StartSshd()
    {
        Repo.RequireTool("ssh", "apt-get install openssh-client");
        Repo.RequireTool("openssl", "apt-get install openssl");
        _hosts = TestHosts.Create(2);
        _hosts.StartSshd(Node);
    }

    [TearDown]
    public void StopHosts() => _hosts?.Dispose();

    private string Steps => Path.Combine(Node.Dir, "steps");

    [Test]
    public void StepsRunTwiceWithTheSameResult()
    {
        var marker = Path.Combine(Node.Dir, "bootstrapped");
        File.WriteAllText(marker, "2026-11-25T10:00:00Z\n");
        var pki = RealPki.Material;
        var etcdPki = Path.Combine(Node.Dir, "etcd-pki");
        var step = Render.StepScriptIn(Steps,
            ("wait-for-bootstrap", Render.WaitForBootstrap(marker)),
            ("etcd-certs", Render.EtcdCerts(new NodeAddress("node2", Node.Address), pki.EtcdCaCert, RealPki.Member(new NodeAddress("node2", Node.Address)), etcdPki)));

        var first = _hosts.RunStep(Client, Node, step);
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Stdout, Does.Contain("is bootstrapped (since 2026-11-25T10:00:00Z)").And.Contains("installed the etcd certificate of node2"));
        var certificate = File.ReadAllText(Path.Combine(etcdPki, "member.crt"));

        var second = _hosts.RunStep(Client, Node, step);
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.That(second.Stdout, Does.Contain("etcd certificate of node2 is current"));
        Assert.That(File.ReadAllText(Path.Combine(etcdPki, "member.crt")), Is.EqualTo(certificate));

        // The scripts stay on the node for an operator, readable by root only.
        Assert.That(File.Exists(Path.Combine(Steps, "etcd-certs.sh")), Is.True);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(Steps), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        }
    }

    [Test]
    public void AFailingStepStopsTheRestAndSaysWhereAndWhy()
    {
        var marker = Path.Combine(Node.Dir, "never-written");
        var step = Render.StepScriptIn(Steps,
            ("wait-for-bootstrap", Render.WaitForBootstrap(marker)),
            ("etcd-health", Render.EtcdHealth([$"https://{Node.Address}:2379"], requireAll: true, timeoutSeconds: 1)));

        var result = _hosts.RunStep(Client, Node, step);

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain($"node bootstrap did not finish on").And.Contains($"{marker} is missing; see /var/log/cloud-init-output.log"));
        Assert.That(result.Stderr, Does.Contain($"do-k8s-ha: step wait-for-bootstrap failed on").And.Contains($"read or re-run {Steps}/wait-for-bootstrap.sh there"));
        Assert.That(File.Exists(Path.Combine(Steps, "etcd-health.sh")), Is.False, "nothing after the failed script ran");
    }

    private void CloudInit(string status) => File.WriteAllText(Path.Combine(Node.Dir, "state", "cloud-init"), status + "\n");

    [Test]
    public void WaitForBootstrapWaitsWhileCloudInitRuns()
    {
        var marker = Path.Combine(Node.Dir, "bootstrapped");
        CloudInit("running");
        var step = Render.StepScriptIn(Steps, ("wait-for-bootstrap", Render.WaitForBootstrap(marker)));
        var run = Task.Run(() => _hosts.RunStep(Client, Node, step));

        Assert.That(run.Wait(TimeSpan.FromSeconds(2)), Is.False, "the step waits for cloud-init");
        File.WriteAllText(marker, "2026-11-25T10:00:00Z\n");
        CloudInit("done");
        var result = run.Result;
        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        Assert.That(result.Stdout, Does.Contain("is bootstrapped (since 2026-11-25T10:00:00Z)"));
    }

    [TestCase("error", true, "cloud-init failed on")]
    [TestCase("degraded", true, "")]
    [TestCase("degraded", false, "is missing; see /var/log/cloud-init-output.log")]
    public void WaitForBootstrapTrustsTheMarkerOnlyAfterRecoverableErrors(string status, bool marked, string error)
    {
        var marker = Path.Combine(Node.Dir, "bootstrapped");
        if (marked)
        {
            File.WriteAllText(marker, "2026-11-25T10:00:00Z\n");
        }
        CloudInit(status);

        var result = _hosts.RunStep(Client, Node, Render.StepScriptIn(Steps, ("wait-for-bootstrap", Render.WaitForBootstrap(marker))));

        Assert.That(result.ExitCode == 0, Is.EqualTo(error.Length == 0), result.Stderr);
        Assert.That(result.Stderr, Does.Contain(error));
    }

    [Test]
    public void EtcdHealthWithoutEtcdFailsNamingTheMembers()
    {
        var pki = RealPki.Material;
        var etcdPki = Path.Combine(Node.Dir, "etcd-pki");
        var step = Render.StepScriptIn(Steps,
            ("etcd-certs", Render.EtcdCerts(new NodeAddress("node2", Node.Address), pki.EtcdCaCert, RealPki.Member(new NodeAddress("node2", Node.Address)), etcdPki)),
            ("etcd-health", Render.EtcdHealth([$"https://{Node.Address}:2379"], requireAll: false, timeoutSeconds: 1,
                caFile: $"{etcdPki}/ca.crt", certFile: $"{etcdPki}/member.crt", keyFile: $"{etcdPki}/member.key")));

        var result = _hosts.RunStep(Client, Node, step);

        Assert.That(result.ExitCode, Is.Not.Zero);
        Assert.That(result.Stderr, Does.Contain($"etcd has lost quorum: 0/1 members healthy, 1 needed; writes fail; not answering: https://{Node.Address}:2379"));
        Assert.That(result.Stderr, Does.Contain("do-k8s-ha: step etcd-health failed on"));
    }

    [Test]
    public void MemberRemovalOnANodeWithoutEtcdSaysWhatToDoAndSucceeds()
    {
        // Removal must never block `pulumi destroy`, even run where no etcd client certificate is.
        var step = Render.StepScriptIn(Steps,
            ("etcd-member-remove", Render.EtcdMemberRemove(new NodeAddress("node2", Node.Address), [new NodeAddress("node1", "10.203.0.9")], Path.Combine(Node.Dir, "etcd-pki"))));

        for (var run = 0; run < 2; run++)
        {
            var result = _hosts.RunStep(Client, Node, step);
            Assert.That(result.ExitCode, Is.Zero, result.Stderr);
            Assert.That(result.Stderr, Does.Contain($"remove the member at {Node.Address} with 'etcdctl member remove <id>' from a surviving member"));
        }
    }

    [Test]
    public void AStepWithSecretsRunsFromStdinAndLeavesNothingOnTheNode()
    {
        // A script that reads stdin would eat the rest of a step piped to `bash -s`: the runner
        // gives the scripts /dev/null instead, so the second script still runs.
        var secret = "-----BEGIN PRIVATE KEY-----\nPLACEHOLDER-secret\n-----END PRIVATE KEY-----";
        var step = Render.SecretStepScript(
            ("reads-stdin", $"#!/usr/bin/env bash\nset -euo pipefail\nkey=$(cat <<'K'\n{secret}\nK\n)\nhead -c 100 >/dev/null || true\necho \"key of ${{#key}} bytes\""),
            ("second", "#!/usr/bin/env bash\nset -euo pipefail\necho second ran\necho \"folder=$(dirname \"$0\")\"\necho \"runner=$(tr '\\0' ' ' < /proc/$PPID/cmdline)\""));

        var result = _hosts.RunStep(Client, Node, step);

        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        Assert.That(result.Stdout, Does.Contain("key of").And.Contain("second ran"));
        Assert.That(Render.StepRunner, Does.Not.Contain("PLACEHOLDER"));
        var folder = result.Stdout.Split('\n').Single(l => l.StartsWith("folder=", StringComparison.Ordinal))["folder=".Length..];
        var runner = result.Stdout.Split('\n').Single(l => l.StartsWith("runner=", StringComparison.Ordinal))["runner=bash ".Length..].Trim();
        Assert.That(folder, Does.StartWith("/run/do-k8s-ha-steps."));
        Assert.That(runner, Does.StartWith("/run/do-k8s-ha-step."));
        Assert.That(Directory.Exists(folder) || File.Exists(runner), Is.False, "the step's scripts and the step itself are gone from the node");
    }
}
