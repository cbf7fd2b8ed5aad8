namespace DoK8sHa.Tests.Support;

/// <summary>
/// A node for running a rendered script for real against stand-ins for the tools it drives
/// (kubeadm, kubectl, systemctl, apt…), in a private mount namespace whose system folders are
/// scratch space. Every stand-in appends "name args" to <see cref="Log"/>; their state lives in
/// <see cref="State"/> (exported to them as $STATE). Needs root, as CI has.
/// </summary>
public sealed class StubbedNode : IDisposable
{
    private readonly string _bin;

    public StubbedNode()
    {
        Repo.RequireTool("unshare", "apt-get install util-linux");
        if (Environment.UserName != "root")
        {
            const string reason = "the script runs in a private mount namespace and needs root (CI is root)";
            if (Repo.InCi)
            {
                Assert.Fail(reason);
            }
            Assert.Ignore(reason);
        }
        Dir = Directory.CreateTempSubdirectory("do-k8s-ha-node-").FullName;
        State = Directory.CreateDirectory(System.IO.Path.Combine(Dir, "state")).FullName;
        _bin = Directory.CreateDirectory(System.IO.Path.Combine(Dir, "bin")).FullName;
    }

    public string Dir { get; }
    public string State { get; }

    /// <summary>What the stand-ins were called with, one call a line.</summary>
    public string Log => File.Exists(StatePath("log")) ? File.ReadAllText(StatePath("log")) : "";

    public string StatePath(string name) => System.IO.Path.Combine(State, name);

    public void WriteState(string name, string text) => File.WriteAllText(StatePath(name), text);

    /// <summary>A stand-in for <paramref name="tool"/>: logs its call, then runs <paramref name="body"/> (bash).</summary>
    public void Stub(string tool, string body = "true")
    {
        var path = System.IO.Path.Combine(_bin, tool);
        File.WriteAllText(path, $"#!/usr/bin/env bash\necho \"{tool} $*\" >> \"$STATE/log\"\n{body}\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>
    /// Runs <paramref name="script"/> with the stand-ins first on PATH and an empty tmpfs over each
    /// of <paramref name="scratch"/>; <paramref name="prepare"/> runs first, inside the sandbox.
    /// </summary>
    /// <param name="overlays">Folders the script may write into while keeping what they hold (/etc): an
    /// overlay whose upper layer is under <see cref="Dir"/>, kept from run to run.</param>
    public (int Exit, string Output) Run(string script, IEnumerable<string> scratch, string prepare = "", IEnumerable<string>? overlays = null)
    {
        var file = System.IO.Path.Combine(Dir, "script.sh");
        File.WriteAllText(file, script);
        var layers = (overlays ?? []).Select(d =>
        {
            var name = d.Trim('/').Replace('/', '-');
            Directory.CreateDirectory(System.IO.Path.Combine(Dir, "upper", name));
            Directory.CreateDirectory(System.IO.Path.Combine(Dir, "work", name));
            return $"mount -t overlay overlay -o lowerdir={d},upperdir={Dir}/upper/{name},workdir={Dir}/work/{name} {d}";
        });
        var mounts = string.Join("\n", layers.Concat(scratch.Select(d => $"mkdir -p {d} && mount -t tmpfs tmpfs {d}")));
        var sandbox = $"""
            set -e
            {mounts}
            {prepare}
            export STATE={State} PATH={_bin}:$PATH
            bash {file}
            """;
        var (exit, stdout, stderr) = Repo.Run("unshare", ["--mount", "--propagation", "private", "bash", "-c", sandbox], timeoutSeconds: 60);
        return (exit, stdout + stderr);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
