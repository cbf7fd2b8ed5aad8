using System.Net.Sockets;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// A stale SSH_AUTH_SOCK on the operator's machine fails every remote step: pulumi-command dials
/// the agent for every connection, even one with a private key (remote/connection.go). The
/// program refuses it before any resource, naming the variable and the fix.
/// </summary>
[NonParallelizable]
public class OperatorEnvironmentTests
{
    [Test]
    public void AnAgentSocketIsJudgedByDialingItAsPulumiCommandDoes()
    {
        var dir = Directory.CreateTempSubdirectory("do-k8s-ha-agent-").FullName;
        try
        {
            var path = Path.Combine(dir, "agent.sock");
            Assert.That(OperatorEnvironment.UnixSocketAnswers(path), Is.False, "no socket");
            using (var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                listener.Bind(new UnixDomainSocketEndPoint(path));
                listener.Listen(1);
                Assert.That(OperatorEnvironment.UnixSocketAnswers(path), Is.True, "a listening agent");
            }
            // A socket file nobody accepts on: what an agent killed with its terminal leaves
            // (connect(2) is refused, ECONNREFUSED).
            using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            stale.Bind(new UnixDomainSocketEndPoint(path));
            Assert.That(File.Exists(path), Is.True);
            Assert.That(OperatorEnvironment.UnixSocketAnswers(path), Is.False, "a stale socket file");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase(null, false)]
    [TestCase("", false)]
    [TestCase("/tmp/ssh-gone/agent.1", true)]
    public void OnlyANamedSocketThatDoesNotAnswerIsAProblem(string? socket, bool problem)
    {
        var found = OperatorEnvironment.SshAgentProblem(socket, _ => false);

        Assert.That(found, problem
            ? Is.EqualTo("SSH_AUTH_SOCK: '/tmp/ssh-gone/agent.1' does not answer, and pulumi-command dials it for every remote step even with sshPrivateKey set. Fix: `unset SSH_AUTH_SOCK` before `pulumi up`, or start the agent it names (`eval $(ssh-agent)`)")
            : Is.Null);
    }

    [Test]
    public void TheProgramRefusesAStaleAgentBeforeAnyResource([Values] bool preview)
    {
        var before = Environment.GetEnvironmentVariable(OperatorEnvironment.AgentVariable);
        Environment.SetEnvironmentVariable(OperatorEnvironment.AgentVariable, "/nonexistent/do-k8s-ha/agent.sock");
        try
        {
            var mocks = new ClusterMocks();
            var message = StackRun.FailureOf(() => StackRun.RunAsync("dev", StackRun.StackConfig("dev"), mocks, isPreview: preview));

            Assert.That(message, Does.Contain("SSH_AUTH_SOCK: '/nonexistent/do-k8s-ha/agent.sock' does not answer").And.Contain("nothing was created or changed"));
            Assert.That(mocks.Resources, Is.Empty, "nothing was registered");
        }
        finally
        {
            Environment.SetEnvironmentVariable(OperatorEnvironment.AgentVariable, before);
        }
    }
}
