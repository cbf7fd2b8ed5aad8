using System.Diagnostics;
using System.Globalization;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// Test hosts that are droplets, as far as this machine allows: each has its own network
/// namespace (<see cref="TestHosts"/>) and a private mount and UTS namespace that lives as long as
/// the droplet, in which /etc, /usr, /var, /root and /opt are copy-on-write layers over this machine's
/// (overlayfs: the "image") and /run and /tmp are fresh tmpfs (/tmp 1777, as on Ubuntu). A step writes the real paths
/// (/etc/etcd, /etc/apt/keyrings, /usr/local/bin…), and what it wrote is that droplet's alone
/// and still there for the next step. A droplet boots as one does: real cloud-init on its user
/// data (NoCloud, the account's SSH key in the metadata as DigitalOcean's datasource gives it),
/// then the real sshd with the host key cloud-init installed, while cloud-init's later stages
/// (the user data's runcmd) go on. Steps arrive over SSH from the operator's host, as
/// pulumi-command sends them: the command text executed, the step on stdin.
/// The image differs from Ubuntu's where this machine cannot be a droplet, each said in
/// <see cref="ImageScript"/>.
/// </summary>
public sealed class Droplets : IDisposable
{
    private static readonly string[] Layered = ["/etc", "/usr", "/var", "/root", "/opt"];

    /// <summary>Names the droplets resolve to the mirror (tests/Support/ReleaseMirror.cs).</summary>
    public static IReadOnlyList<string> MirroredNames => ["github.com", "dl.k8s.io", "pkgs.k8s.io", SpacesHost];

    /// <summary>Spaces' endpoint in the dev stack's region: the mirror passes it to a test's S3 server (<see cref="ReleaseMirror.ServeS3"/>).</summary>
    public const string SpacesHost = "lon1.digitaloceanspaces.com";

    private readonly Dictionary<string, Process> _holders = [];

    private Droplets(TestHosts hosts, int count)
    {
        Hosts = hosts;
        All = [.. hosts.Hosts.Take(count)];
    }

    public TestHosts Hosts { get; }

    /// <summary>The droplets, in order.</summary>
    public IReadOnlyList<TestHost> All { get; }

    public TestHost this[int index] => All[index];

    /// <summary>The operator's machine, where `pulumi up` runs: the SSH client of every step.</summary>
    public TestHost Operator => Hosts.Hosts[^2];

    /// <summary>The host that serves release downloads and the package repository.</summary>
    public TestHost Mirror => Hosts.Hosts[^1];

    /// <summary>The operator's SSH key: the account key every droplet authorizes for root.</summary>
    public string OperatorKey => Path.Combine(Hosts.Dir, "operator_key");

    public static Droplets Create(int count)
    {
        foreach (var (tool, package) in new[] { ("cloud-init", "cloud-init"), ("sshd", "openssh-server"), ("ssh", "openssh-client"), ("nsenter", "util-linux"), ("setpriv", "util-linux"), ("update-ca-certificates", "ca-certificates") })
        {
            Repo.RequireTool(tool, $"apt-get install {package}");
        }
        var hosts = TestHosts.Create(count + 2);
        var droplets = new Droplets(hosts, count);
        try
        {
            var (exit, _, stderr) = Repo.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "operator@do-k8s-ha-test", "-f", droplets.OperatorKey]);
            if (exit != 0)
            {
                throw new InvalidOperationException($"ssh-keygen: {stderr}");
            }
            ReleaseMirror.MakeCertificates(hosts.Dir);
            foreach (var host in droplets.All)
            {
                droplets.Create(host);
            }
        }
        catch
        {
            droplets.Dispose();
            throw;
        }
        return droplets;
    }

    /// <summary>A new droplet: an empty layer over the image, its own /run, its own hostname.</summary>
    private void Create(TestHost host)
    {
        var root = Path.Combine(host.Dir, "droplet");
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
        var mounts = new List<string>();
        foreach (var dir in Layered)
        {
            var name = dir.Trim('/');
            var upper = Directory.CreateDirectory(Path.Combine(root, "upper", name)).FullName;
            var work = Directory.CreateDirectory(Path.Combine(root, "work", name)).FullName;
            mounts.Add($"mount -t overlay overlay -o lowerdir={dir},upperdir={upper},workdir={work} {dir}");
        }
        // It says when it is ready on its output (the test's files are out of its sight under its own /tmp).
        File.Delete(Path.Combine(host.Dir, "droplet.log"));
        // /proc/sys is the machine's kernel: only the network namespace's own settings are the droplet's.
        var holder = $"""
            set -e
            {string.Join("\n", mounts)}
            mount -t tmpfs -o mode=0755 tmpfs /run
            mount -t tmpfs -o mode=1777 tmpfs /tmp
            mount --bind /proc/sys /proc/sys
            mount --bind /proc/sys/net /proc/sys/net
            mount -o remount,bind,ro /proc/sys
            hostname {host.Name}
            echo droplet-ready
            exec sleep infinity
            """;
        _holders[host.Name] = Hosts.Start(host, "droplet", "unshare", "--mount", "--uts", "--propagation", "private", "bash", "-c", holder);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!Hosts.Log(host, "droplet").Contains("droplet-ready", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || _holders[host.Name].HasExited)
            {
                throw new InvalidOperationException($"droplet {host.Name} did not start: {Hosts.Log(host, "droplet")}");
            }
            Thread.Sleep(50);
        }
        var image = Exec(host, ImageScript(host));
        if (image.ExitCode != 0)
        {
            throw new InvalidOperationException($"droplet {host.Name}'s image: {image.Stdout}{image.Stderr}");
        }
    }

    /// <summary>The droplet is destroyed and a new one made in its place: same name and address, nothing kept.</summary>
    public void Replace(TestHost host)
    {
        PowerOff(host);
        TestHosts.Stop(_holders[host.Name]);
        // A new droplet is a new target of the balancer, admitted only once it passes the
        // health check, though it has the old one's address: the checker (ReleaseMirror.Serve,
        // which makes the folder) drops it before the new one boots.
        if (Directory.Exists(BalancerResets))
        {
            var reset = Path.Combine(BalancerResets, host.Address);
            File.WriteAllText(reset, "");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (File.Exists(reset) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
        Create(host);
    }

    /// <summary>Addresses whose droplet was made anew: the balancer's checker drops them until they pass again.</summary>
    public string BalancerResets => Path.Combine(Hosts.Dir, "balancer-resets");

    /// <summary>
    /// The droplet stops dead: every process it runs is killed at once, its disk kept. It no
    /// longer answers. Its processes are those in its UTS namespace, the droplet's own: a service
    /// the systemctl stand-in sandboxes (etcd's ProtectSystem=) runs in a mount namespace of its
    /// own below the droplet's, and a power-off that looked for the droplet's mount namespace
    /// left it serving, a dead node's etcd still answering for it.
    /// </summary>
    public void PowerOff(TestHost host)
    {
        var holder = Holder(host);
        Repo.Run("bash", ["-c", $$"""
            ns=$(readlink /proc/{{holder}}/ns/uts)
            for p in /proc/[0-9]*; do
              pid=${p#/proc/}
              [ "$pid" != {{holder}} ] && [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$ns" ] && kill -9 "$pid" 2>/dev/null
            done
            true
            """], timeoutSeconds: 30);
    }

    /// <summary>
    /// What makes this machine's file system a droplet's image, run inside the droplet before it
    /// boots. Each line is a difference this machine forces, not a convenience:
    /// </summary>
    private string ImageScript(TestHost host) => $"""
        set -euo pipefail
        # No systemd runs here: systemctl is the stand-in that runs a unit as its User= with its
        # sandbox (tests/Support/standins/systemctl); modprobe answers for what this kernel has
        # built in (there is no /lib/modules). /usr/local/sbin comes first on root's PATH.
        {Write("/usr/local/sbin/systemctl", "0755", File.ReadAllText(Repo.Path("tests", "Support", "standins", "systemctl")))}
        {Write("/usr/local/sbin/modprobe", "0755", File.ReadAllText(Repo.Path("tests", "Support", "standins", "modprobe")))}
        {Write("/usr/local/sbin/journalctl", "0755", File.ReadAllText(Repo.Path("tests", "Support", "standins", "journalctl")))}
        # The kernel is shared: sysctl --system may set only the network namespace's own keys.
        find /usr/lib/sysctl.d /etc/sysctl.d -name '*.conf' ! -name '99-sysctl.conf' -delete
        # The distribution's mirror is not reachable: its packages are those this machine has.
        rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
        # The release downloads and pkgs.k8s.io resolve to the mirror host, whose CA the image trusts.
        echo '{Mirror.Address} {string.Join(' ', MirroredNames)}' >> /etc/hosts
        {Write("/usr/local/share/ca-certificates/do-k8s-ha-test-mirror.crt", "0644", File.ReadAllText(Path.Combine(Hosts.Dir, "mirror-ca.crt")))}
        update-ca-certificates >/dev/null 2>&1
        # cloud-init's image settings: the NoCloud seed, as a droplet's metadata; root takes the
        # account's keys (DigitalOcean's images allow root); no disk to grow here, no en_US locale.
        mkdir -p /etc/cloud/cloud.cfg.d
        cat > /etc/cloud/cloud.cfg.d/99-do-k8s-ha-test.cfg <<'CFG'
        datasource_list: [NoCloud, None]
        disable_root: false
        resize_rootfs: false
        growpart:
          mode: "off"
        locale: C.UTF-8
        CFG
        rm -rf /var/lib/cloud /var/log/cloud-init.log /var/log/cloud-init-output.log
        rm -f /etc/ssh/ssh_host_*
        # What a boot starts: an Ubuntu droplet's sshd, and nginx, which its user data installs (its
        # package enables it); not this machine's own services (its etcd-server, postgresql, its
        # containerd: a droplet's comes from the releases step). The steps enable what they add (Reboot).
        find /etc/systemd/system/multi-user.target.wants -mindepth 1 ! -name ssh.service ! -name nginx.service -delete
        """;

    /// <summary>
    /// Boots the droplet: cloud-init's first two stages on the user data (host keys, the account's
    /// key), sshd as its unit starts it, then cloud-init's config and final stages in the
    /// background (the runcmd, the node's bootstrap), as on a droplet where SSH answers while the
    /// user data still runs.
    /// </summary>
    public void Boot(TestHost host, string hostname, string userData)
    {
        var seed = Path.Combine(host.Dir, "seed");
        Directory.CreateDirectory(seed);
        File.WriteAllText(Path.Combine(seed, "user-data"), userData);
        File.WriteAllText(Path.Combine(seed, "meta-data"), $"""
            instance-id: {host.Name}-{Random.Shared.Next(100000, 999999).ToString(CultureInfo.InvariantCulture)}
            local-hostname: {hostname}
            public-keys:
              - {File.ReadAllText(OperatorKey + ".pub").Trim()}

            """);
        BootStages(host, $"""
            hostname {hostname}
            mkdir -p /var/lib/cloud/seed/nocloud
            {Write("/var/lib/cloud/seed/nocloud/user-data", "0600", File.ReadAllText(Path.Combine(seed, "user-data")))}
            {Write("/var/lib/cloud/seed/nocloud/meta-data", "0600", File.ReadAllText(Path.Combine(seed, "meta-data")))}
            """, "did not boot");
    }

    /// <summary>
    /// What every boot runs after <paramref name="before"/>: cloud-init's first two stages, sshd as
    /// its unit starts it (its runtime directory, a config test, then the daemon), then cloud-init's
    /// config and final stages in the background.
    /// </summary>
    private void BootStages(TestHost host, string before, string failure)
    {
        var init = Exec(host, $"""
            set -uo pipefail
            {before}
            cloud-init init --local >>/var/log/cloud-init-output.log 2>&1
            cloud-init init >>/var/log/cloud-init-output.log 2>&1
            mkdir -p -m 0755 /run/sshd
            /usr/sbin/sshd -t
            """, timeoutSeconds: 120);
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException($"{host.Name} {failure}: {init.Stdout}{init.Stderr}{Read(host, "/var/log/cloud-init-output.log")}");
        }
        var sshd = StartIn(host, "sshd", "/usr/sbin/sshd", "-D", "-e");
        Hosts.WaitForPort(host, host.Address, 22);
        // As systemd knows ssh.service's main PID: `systemctl reload ssh` signals this sshd.
        Exec(host, $"mkdir -p /run/systemctl-stand-in/pids && echo {sshd.Id} > /run/systemctl-stand-in/pids/ssh.service");
        StartIn(host, "cloud-final", "bash", "-c", "cloud-init modules --mode=config >>/var/log/cloud-init-output.log 2>&1; cloud-init modules --mode=final >>/var/log/cloud-init-output.log 2>&1");
    }

    /// <summary>
    /// The droplet restarts, as a resize does (DigitalOcean powers it off, resizes it and powers it
    /// on, same id and addresses): every process dies, the disk stays, /run and /tmp (tmpfs) start
    /// empty. cloud-init boots the same instance (its seed is on disk, so the per-instance modules,
    /// the user data's runcmd among them, do not run again), sshd starts, and every unit linked in
    /// multi-user.target.wants starts, as systemd starts what is enabled: what no step enabled
    /// stays down, as on a droplet. The kernel's netfilter tables do not survive a reboot either:
    /// they start empty, and what a step's unit in sysinit.target.wants loads is back before the rest.
    /// </summary>
    public void Reboot(TestHost host)
    {
        PowerOff(host);
        BootStages(host, "find /run /tmp -mindepth 1 -maxdepth 1 -exec rm -rf {} +; if command -v nft >/dev/null; then nft flush ruleset; fi", "did not boot again");
        var units = Exec(host, """
            set -euo pipefail
            for link in /etc/systemd/system/sysinit.target.wants/*.service; do
              # Only the units the steps wrote: the image's own (timesyncd…) need a real systemd.
              [ -e "$link" ] && [[ $(readlink -f "$link") == /etc/systemd/system/* ]] || continue
              systemctl start "${link##*/}"
            done
            for link in /etc/systemd/system/multi-user.target.wants/*.service; do
              [ -e "$link" ] || continue
              unit=${link##*/}
              [ "$unit" = ssh.service ] || systemctl start --no-block "$unit"
            done
            """);
        if (units.ExitCode != 0)
        {
            throw new InvalidOperationException($"{host.Name}'s enabled units: {units.Stdout}{units.Stderr}");
        }
    }

    /// <summary>
    /// A shell line that writes a file into the droplet from its content: the droplet's /tmp is
    /// its own, so it sees no file of the test's.
    /// </summary>
    private static string Write(string path, string mode, string content) =>
        $"base64 -d > {path} <<'B64'\n{Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(content))}\nB64\nchmod {mode} {path}";

    /// <summary>The SSH host key each droplet made for itself (host-key.sh), by test host, as its step printed it.</summary>
    public Dictionary<string, string> MadeHostKeys { get; } = [];

    /// <summary>The public host key line sshd serves, as the program pins it (known_hosts).</summary>
    public string KnownHost(TestHost host, string publicKey) => $"{host.Address} {publicKey.Trim()}";

    /// <summary>Runs a script as root inside the droplet (its console, not SSH).</summary>
    public (int ExitCode, string Stdout, string Stderr) Exec(TestHost host, string script, int timeoutSeconds = 120) =>
        Repo.Run("nsenter", ["--target", Holder(host), "--mount", "--uts", "--net", "bash", "-c", script], timeoutSeconds: timeoutSeconds);

    /// <summary>What one would look at on a droplet whose step failed: its services' and stand-ins' logs, their tails.</summary>
    public string Logs(TestHost host) =>
        Exec(host, "for f in /run/systemctl-stand-in/*.log /run/kubeadm-stand-in/*.log /run/kubeadm-stand-in/log; do [ -f \"$f\" ] && { echo \"== $f\"; tail -n 15 \"$f\"; }; done; true", timeoutSeconds: 20).Stdout;

    /// <summary>A file of the droplet, or "" where it has none.</summary>
    public string Read(TestHost host, string path) => Exec(host, $"cat {path} 2>/dev/null || true").Stdout;

    /// <summary>
    /// Runs a command on the droplet as pulumi-command's Remote.Command does: an SSH session as
    /// the connection's user, the host key pinned and only its algorithm offered, the command
    /// text executed, stdin piped (pulumi-command remote/connection.go: FixedHostKey and
    /// HostKeyAlgorithms of the pinned key's type; remote/commandOutputs.go: session.Stdin, session.Run).
    /// </summary>
    public (int ExitCode, string Stdout, string Stderr) Ssh(TestHost host, string hostKeyPublic, string command, string? stdin, string user = "root", int timeoutSeconds = 300)
    {
        var knownHosts = Path.Combine(Hosts.Dir, $"known_hosts-{host.Name}");
        File.WriteAllText(knownHosts, KnownHost(host, hostKeyPublic) + "\n");
        return Hosts.Exec(Operator, "ssh", [
            "-i", OperatorKey, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
            "-o", $"HostKeyAlgorithms={hostKeyPublic.Trim().Split(' ')[0]}",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", $"{user}@{host.Address}", command], stdin, timeoutSeconds);
    }

    /// <summary>
    /// An SSH session from the operator's host to any address (a droplet, or the balancer's
    /// relay), as pulumi-command opens it: with the host key pinned, and only its algorithm
    /// offered, when the connection names one, else any key accepted (remote/connection.go falls
    /// back to InsecureIgnoreHostKey).
    /// </summary>
    /// <param name="privateKey">The key the connection gives (pulumi-command dials with it alone, and the agent only when SSH_AUTH_SOCK is set); null: the operator's.</param>
    public (int ExitCode, string Stdout, string Stderr) SshTo(string address, int port, string? hostKeyPublic, string command, string? stdin, string user, int timeoutSeconds = 600, string? privateKey = null)
    {
        var identity = OperatorKey;
        if (privateKey is not null)
        {
            identity = Path.Combine(Hosts.Dir, "key-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(privateKey)))[..16]);
            lock (_keyFiles)
            {
                if (!File.Exists(identity))
                {
                    File.WriteAllText(identity, privateKey.EndsWith('\n') ? privateKey : privateKey + "\n");
                    if (!OperatingSystem.IsWindows())
                    {
                        File.SetUnixFileMode(identity, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                    }
                }
            }
        }
        var knownHosts = Path.Combine(Hosts.Dir, $"known_hosts-{address}-{port}-{Guid.NewGuid():N}");
        var pinned = hostKeyPublic is { Length: > 0 };
        if (pinned)
        {
            File.WriteAllText(knownHosts, $"{(port == 22 ? address : $"[{address}]:{port}")} {hostKeyPublic!.Trim()}\n");
        }
        return Hosts.Exec(Operator, "ssh", [
            "-i", identity, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-p", port.ToString(CultureInfo.InvariantCulture), "-o", "BatchMode=yes",
            "-o", $"StrictHostKeyChecking={(pinned ? "yes" : "no")}", "-o", $"UserKnownHostsFile={(pinned ? knownHosts : "/dev/null")}",
            .. (pinned ? new[] { "-o", $"HostKeyAlgorithms={hostKeyPublic!.Trim().Split(' ')[0]}" } : []),
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", $"{user}@{address}", command], stdin, timeoutSeconds);
    }

    private readonly object _keyFiles = new();

    private Process StartIn(TestHost host, string name, string file, params string[] args) =>
        Hosts.Start(host, name, "nsenter", ["--target", Holder(host), "--mount", "--uts", "--net", file, .. args]);

    private string Holder(TestHost host) => _holders[host.Name].Id.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var host in All.Where(h => _holders.ContainsKey(h.Name)))
        {
            try
            {
                PowerOff(host);
            }
            catch (TimeoutException)
            {
                // The holder's death below ends what is left with the namespace's processes' parent gone.
            }
        }
        Hosts.Dispose();
    }
}
