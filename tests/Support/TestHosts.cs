using System.Diagnostics;
using System.Globalization;

namespace DoK8sHa.Tests.Support;

/// <summary>One test host: a network namespace with its own address on the fixture's bridge.</summary>
public sealed record TestHost(string Name, string Namespace, string Address, string Dir);

/// <summary>
/// Several hosts on this machine: network namespaces on a private bridge (itself inside a
/// namespace, so no address exists outside what the fixture creates). Every process started is
/// tracked and stopped by its PID on dispose; the namespaces and files go with it.
/// </summary>
public sealed class TestHosts : IDisposable
{
    public const string Subnet = "10.203.0";

    /// <summary>An address on the bridge that no host answers: connections to it time out.</summary>
    public const string Unreachable = Subnet + ".250";

    private readonly List<Process> _processes = [];
    private readonly List<string> _namespaces = [];
    private readonly string _id = (Environment.ProcessId % 100000).ToString("D5", CultureInfo.InvariantCulture) + Random.Shared.Next(100, 999).ToString(CultureInfo.InvariantCulture);

    public IReadOnlyList<TestHost> Hosts { get; private set; } = [];
    public string Dir { get; }

    public TestHost this[int index] => Hosts[index];

    private TestHosts() => Dir = Directory.CreateTempSubdirectory("do-k8s-ha-hosts-").FullName;

    private void Build(int count)
    {
        var bridge = Namespace("sw");
        Ip("-n", bridge, "link", "add", "br0", "type", "bridge");
        Ip("-n", bridge, "link", "set", "br0", "up");

        var hosts = new List<TestHost>();
        for (var i = 1; i <= count; i++)
        {
            var ns = Namespace($"h{i}");
            var (inside, outside) = ($"dkh{_id}a{i}", $"dkh{_id}b{i}");
            Ip("link", "add", inside, "type", "veth", "peer", "name", outside);
            Ip("link", "set", inside, "netns", ns);
            Ip("link", "set", outside, "netns", bridge);
            Ip("-n", bridge, "link", "set", outside, "master", "br0");
            Ip("-n", bridge, "link", "set", outside, "up");
            Ip("-n", ns, "link", "set", inside, "name", "eth0");
            var address = $"{Subnet}.{i + 1}";
            Ip("-n", ns, "addr", "add", $"{address}/24", "dev", "eth0");
            Ip("-n", ns, "link", "set", "eth0", "up");
            Ip("-n", ns, "link", "set", "lo", "up");
            var dir = Directory.CreateDirectory(Path.Combine(Dir, $"h{i}")).FullName;
            hosts.Add(new TestHost($"host{i}", ns, address, dir));
        }
        Hosts = hosts;
    }

    /// <summary>Needs root and iproute2. In CI a missing prerequisite fails; elsewhere it skips, saying how to run.</summary>
    public static TestHosts Create(int count)
    {
        Repo.RequireTool("ip", "apt-get install iproute2");
        if (Environment.UserName != "root")
        {
            const string reason = "test hosts are network namespaces and need root: run the tests as root (CI does)";
            if (Repo.InCi)
            {
                Assert.Fail(reason);
            }
            Assert.Ignore(reason);
        }
        var hosts = new TestHosts();
        try
        {
            hosts.Build(count);
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
        return hosts;
    }

    /// <summary>Runs a command to completion inside the host's namespace.</summary>
    public (int ExitCode, string Stdout, string Stderr) Exec(TestHost host, string file, IEnumerable<string> args, string? stdin = null, int timeoutSeconds = 60) =>
        Repo.Run("ip", ["netns", "exec", host.Namespace, file, .. args], stdin, timeoutSeconds);

    public (int ExitCode, string Stdout, string Stderr) Bash(TestHost host, string script, int timeoutSeconds = 60) =>
        Exec(host, "bash", ["-c", script], timeoutSeconds: timeoutSeconds);

    /// <summary>
    /// Starts etcd as the etcd user, as its systemd unit does (etcd-service.sh: User=etcd), with no
    /// capabilities; the test folders are made traversable for it (its own files are its own).
    /// <paramref name="dataDir"/>, for a member no rendered etcd-member.sh prepared, is made
    /// etcd's first, as that script makes it.
    /// </summary>
    public Process StartEtcd(TestHost host, string config, string? dataDir = null)
    {
        Repo.RequireTool("setpriv", "apt-get install util-linux");
        if (dataDir is not null)
        {
            var made = Bash(host, $"install -d -o etcd -g etcd -m 0700 {dataDir}");
            if (made.ExitCode != 0)
            {
                throw new InvalidOperationException($"etcd's data folder {dataDir}: {made.Stderr}");
            }
        }
        foreach (var dir in new[] { Dir, host.Dir })
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            }
        }
        return Start(host, "etcd", Repo.Which("setpriv")!, "--reuid=etcd", "--regid=etcd", "--init-groups", "--inh-caps=-all", "--bounding-set=-all",
            Repo.Which("etcd")!, "--config-file", config);
    }

    /// <summary>Starts a long-running process in the host's namespace; its output goes to a log in the host's dir.</summary>
    public Process Start(TestHost host, string name, string file, params string[] args)
    {
        var log = Path.Combine(host.Dir, $"{name}.log");
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["netns", "exec", host.Namespace, file, .. args])
        {
            info.ArgumentList.Add(arg);
        }
        // `ip netns exec` execs the command itself: the PID is the process's own.
        var process = Process.Start(info)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (writer) { writer.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (writer) { writer.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add(process);
        }
        return process;
    }

    public string Log(TestHost host, string name)
    {
        var path = Path.Combine(host.Dir, $"{name}.log");
        return File.Exists(path) ? File.ReadAllText(path) : "";
    }

    /// <summary>Stops a process by its PID and waits for it.</summary>
    public static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    /// <summary>Copies a stand-in from tests/Support/standins into a host's bin folder, executable.</summary>
    public static void InstallStandIn(string standIn, string bin)
    {
        var target = Path.Combine(bin, Path.GetFileName(standIn));
        File.Copy(standIn, target, overwrite: true);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>The key every host's sshd accepts for root (made by <see cref="StartSshd"/>).</summary>
    public string ClientKey => Path.Combine(Dir, "client_key");

    /// <summary>
    /// Runs sshd on the host, on its own address, with the given host key or a fresh one; root
    /// logs in with <see cref="ClientKey"/>.
    /// </summary>
    public void StartSshd(TestHost host, string? hostKey = null)
    {
        Repo.RequireTool("sshd", "apt-get install openssh-server");
        if (!File.Exists(ClientKey))
        {
            Keygen(ClientKey);
        }
        if (hostKey is null)
        {
            hostKey = Path.Combine(host.Dir, "ssh_host_ed25519_key");
            Keygen(hostKey);
        }
        File.Copy(ClientKey + ".pub", Path.Combine(host.Dir, "authorized_keys"), overwrite: true);
        // The node booted: cloud-init's status is a stand-in's, never this machine's (where
        // cloud-init never ran and `status --wait` would wait forever).
        var bin = Directory.CreateDirectory(Path.Combine(host.Dir, "bin")).FullName;
        Directory.CreateDirectory(Path.Combine(host.Dir, "state"));
        InstallStandIn(Repo.Path("tests", "Support", "standins", "cloud-init"), bin);
        var config = Path.Combine(host.Dir, "sshd_config");
        File.WriteAllText(config, $"""
            ListenAddress {host.Address}
            Port 22
            HostKey {hostKey}
            AuthorizedKeysFile {host.Dir}/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile {host.Dir}/sshd.pid
            SetEnv PATH={bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

            """);
        // sshd's privilege-separation directory; it is the system's own, made if missing.
        Directory.CreateDirectory("/run/sshd");
        Start(host, "sshd", Repo.Which("sshd")!, "-D", "-e", "-f", config);
        WaitForPort(host, host.Address, 22);
    }

    /// <summary>Runs a command text on a host over SSH from another, as pulumi-command's Remote.Command does.</summary>
    public (int ExitCode, string Stdout, string Stderr) Ssh(TestHost from, TestHost to, string command, int timeoutSeconds = 60, string? stdin = null) =>
        Exec(from, "ssh", [
            "-i", ClientKey, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", $"root@{to.Address}", command], stdin, timeoutSeconds);

    /// <summary>
    /// Runs a rendered remote step as the program's Remote.Command does: the fixed runner as the
    /// command, the step on stdin (pulumi-command remote/commandOutputs.go: session.Stdin, session.Run).
    /// </summary>
    public (int ExitCode, string Stdout, string Stderr) RunStep(TestHost from, TestHost to, string step, int timeoutSeconds = 60) =>
        Ssh(from, to, DoK8sHa.Scripts.Render.StepRunner, timeoutSeconds, stdin: step);

    private static void Keygen(string path)
    {
        var (exit, _, stderr) = Repo.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "do-k8s-ha-test", "-f", path]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"ssh-keygen: {stderr}");
        }
    }

    /// <summary>Waits until a TCP port accepts inside the host's namespace.</summary>
    public void WaitForPort(TestHost host, string address, int port, int timeoutSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (Bash(host, $"exec 3<>/dev/tcp/{address}/{port}", timeoutSeconds: 5).ExitCode != 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nothing listens on {address}:{port} in {host.Name}");
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>
    /// Waits until something listens on the port in the host, without connecting to it: a probe
    /// connection through a proxy would reach an upstream and change what the test measures.
    /// </summary>
    public void WaitForListener(TestHost host, int port, int timeoutSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (Exec(host, "ss", ["-ltnH", $"sport = :{port}"], timeoutSeconds: 5).Stdout.Trim().Length == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nothing listens on port {port} in {host.Name}");
            }
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                try
                {
                    Stop(process);
                }
                catch (InvalidOperationException)
                {
                    // Never started or already reaped.
                }
                process.Dispose();
            }
            _processes.Clear();
        }
        // Deleting a namespace deletes its veth ends, and with them their peers.
        foreach (var ns in _namespaces)
        {
            Repo.Run("ip", ["netns", "del", ns]);
        }
        Directory.Delete(Dir, recursive: true);
    }

    private string Namespace(string suffix)
    {
        var name = $"dkh{_id}-{suffix}";
        Ip("netns", "add", name);
        _namespaces.Add(name);
        return name;
    }

    private static void Ip(params string[] args)
    {
        var (exit, _, stderr) = Repo.Run("ip", args);
        if (exit != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {stderr}");
        }
    }
}
