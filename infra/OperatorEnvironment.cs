using System.Net.Sockets;

namespace DoK8sHa;

/// <summary>
/// What of the operator's machine the remote steps depend on. pulumi-command runs with the
/// CLI's environment, as this program does, and dials the SSH agent SSH_AUTH_SOCK names for
/// every connection, even one given a private key: a socket that does not answer fails every
/// step (pulumi-command provider/pkg/provider/remote/connection_unix.go,
/// tryGetDefaultAgentSocket; connection.go returns dialAgent's error). Found here, before any
/// resource, instead of at the first step.
/// </summary>
public static class OperatorEnvironment
{
    public const string AgentVariable = "SSH_AUTH_SOCK";

    /// <summary>The problem with the agent socket, or null: none named, or it answers.</summary>
    public static string? SshAgentProblem(string? socket, Func<string, bool> answers) =>
        string.IsNullOrEmpty(socket) || answers(socket)
            ? null
            : $"{AgentVariable}: '{socket}' does not answer, and pulumi-command dials it for every remote step even with sshPrivateKey set. "
                + $"Fix: `unset {AgentVariable}` before `pulumi up`, or start the agent it names (`eval $(ssh-agent)`)";

    /// <summary>Whether a Unix socket accepts a connection, as pulumi-command's net.Dial("unix", path).</summary>
    public static bool UnixSocketAnswers(string path)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            // A path longer than a socket address holds (108 bytes): no dial could reach it.
            return false;
        }
    }

    /// <summary>Problems of this machine's environment, for <see cref="Config.ConfigException"/>.</summary>
    public static IReadOnlyList<string> Problems() =>
        OperatingSystem.IsWindows() ? [] : SshAgentProblem(Environment.GetEnvironmentVariable(AgentVariable), UnixSocketAnswers) is { } problem ? [problem] : [];
}
