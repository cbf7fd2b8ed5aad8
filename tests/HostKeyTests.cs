using System.Collections.Immutable;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests;

/// <summary>
/// A node's SSH host key, from the program to the droplet and back: the user data is read by the
/// real cloud-init module that installs host keys (cc_ssh), sshd serves what it wrote, and an SSH
/// client that pins the key, as the program's connections do, gets in, and one that pins another does not.
/// </summary>
[NonParallelizable]
public class HostKeyTests
{
    // Debian's cloud-init runs on the system Python, whatever python3 is first on PATH.
    private const string SystemPython = "/usr/bin/python3";

    private TestHosts _hosts = null!;

    [SetUp]
    public void RequireTools()
    {
        Repo.RequireTool("cloud-init", "apt-get install cloud-init");
        Repo.RequireTool("unshare", "apt-get install util-linux");
        Repo.RequireTool("ssh", "apt-get install openssh-client");
        _hosts = TestHosts.Create(2);
    }

    [TearDown]
    public void StopHosts() => _hosts?.Dispose();

    private static (string Private, string Public) HostKey(string name)
    {
        var outputs = new TlsStandIn().Outputs("tls:index/privateKey:PrivateKey", name,
            ImmutableDictionary<string, object>.Empty.Add("algorithm", "ECDSA").Add("ecdsaCurve", "P256"));
        return ((string)outputs["privateKeyOpenssh"], (string)outputs["publicKeyOpenssh"]);
    }

    [Test]
    public void CloudInitInstallsTheProgramsHostKeyAndSshdServesIt()
    {
        var (privateKey, publicKey) = HostKey("hostkey-test-node.ssh-host-key");
        var userData = Path.Combine(_hosts.Dir, "user-data");
        File.WriteAllText(userData, Render.NodeUserData(privateKey, publicKey));

        var schema = Repo.Run("cloud-init", ["schema", "--config-file", userData]);
        Assert.That(schema.ExitCode, Is.Zero, schema.Stdout + schema.Stderr);

        // cc_ssh writes to /etc/ssh: give it an empty one, with a key of the image it must delete.
        var etc = Path.Combine(_hosts.Dir, "etc-ssh");
        Directory.CreateDirectory(etc);
        var script = $"""
            set -euo pipefail
            mount -t tmpfs tmpfs /etc/ssh
            echo stale > /etc/ssh/ssh_host_rsa_key
            {SystemPython} -c 'import logging, sys, yaml
            from cloudinit.config import cc_ssh
            cfg = yaml.safe_load(open(sys.argv[1]))
            cc_ssh.handle("ssh", cfg, None, logging.getLogger("cc_ssh"), [])' {userData}
            cp -p /etc/ssh/ssh_host_* {etc}/
            """;
        var run = Repo.Run("unshare", ["--mount", "--propagation", "private", "bash", "-c", script]);
        Assert.That(run.ExitCode, Is.Zero, run.Stderr);
        Assert.That(Directory.GetFiles(etc).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "ssh_host_ecdsa_key", "ssh_host_ecdsa_key.pub" }),
            "the image's keys are gone and no other key was generated");
        var installed = Path.Combine(etc, "ssh_host_ecdsa_key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(installed), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        var derived = Repo.Run("ssh-keygen", ["-y", "-f", installed]);
        Assert.That(derived.ExitCode, Is.Zero, derived.Stderr);
        Assert.That(derived.Stdout.Trim(), Is.EqualTo(publicKey.Trim()), "the private key is the pair of the pinned public key");

        var (client, node) = (_hosts[0], _hosts[1]);
        _hosts.StartSshd(node, hostKey: installed);
        var pinned = Pin(node, publicKey);
        var good = _hosts.Exec(client, "ssh", Options(pinned, node, "echo pinned-key-accepted"), null, 30);
        Assert.That((good.ExitCode, good.Stdout.Trim()), Is.EqualTo((0, "pinned-key-accepted")), good.Stderr);

        // Another machine answering at that address: the client refuses before sending anything.
        var other = Pin(node, HostKey("hostkey-test-impostor.ssh-host-key").Public);
        var refused = _hosts.Exec(client, "ssh", Options(other, node, "echo should-not-run"), null, 30);
        Assert.That(refused.ExitCode, Is.Not.Zero);
        Assert.That(refused.Stdout, Does.Not.Contain("should-not-run"));
        Assert.That(refused.Stderr, Does.Contain("Host key verification failed"));
    }

    [Test]
    public void TheUserDataRunsTheBootstrapScriptAsItIs()
    {
        var (privateKey, publicKey) = HostKey("hostkey-test-node.ssh-host-key");
        var yaml = new YamlStream();
        yaml.Load(new StringReader(Render.NodeUserData(privateKey, publicKey)));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;

        var file = ((YamlSequenceNode)root["write_files"]).Cast<YamlMappingNode>().Single(f => f["path"].ToString() == Render.BootstrapPath);
        Assert.That(file["content"].ToString(), Is.EqualTo(Render.NodeBootstrap()));
        var run = ((YamlSequenceNode)root["runcmd"]).Single();
        Assert.That(run.ToString(), Is.EqualTo(file["path"].ToString()));
        Assert.That(((YamlMappingNode)root["ssh_keys"])["ecdsa_private"].ToString(), Is.EqualTo(privateKey));
    }

    /// <summary>
    /// The user data's sshd drop-in, written by cloud-init's own write_files module (init stage,
    /// before sshd starts), as sshd itself reads it with the image's sshd_config (its Include of
    /// sshd_config.d): the steps the engine runs at once are not dropped (MaxStartups).
    /// </summary>
    [Test]
    public void CloudInitWritesTheSshdLimitsAndSshdReadsThem()
    {
        var (privateKey, publicKey) = HostKey("hostkey-test-node.ssh-host-key");
        var userData = Path.Combine(_hosts.Dir, "user-data");
        File.WriteAllText(userData, Render.NodeUserData(privateKey, publicKey));
        var script = $"""
            set -euo pipefail
            mkdir -p /etc/ssh/sshd_config.d
            mount -t tmpfs tmpfs /etc/ssh/sshd_config.d
            mount -t tmpfs tmpfs {Path.GetDirectoryName(Render.BootstrapPath)}
            {SystemPython} -c 'import logging, sys, types, yaml
            from cloudinit.config import cc_write_files
            cfg = yaml.safe_load(open(sys.argv[1]))
            # The default owner of a file that names none (cloudinit/distros/__init__.py: root:root).
            cloud = types.SimpleNamespace(distro=types.SimpleNamespace(default_owner="root:root"))
            cc_write_files.handle("write_files", cfg, cloud, logging.getLogger("cc_write_files"), [])' {userData}
            stat -c '%a %U' {Render.SshdConfigPath}
            mkdir -p -m 0755 /run/sshd
            /usr/sbin/sshd -T -f /etc/ssh/sshd_config | grep -i '^maxstartups '
            """;
        var run = Repo.Run("unshare", ["--mount", "--propagation", "private", "bash", "-c", script]);

        Assert.That(run.ExitCode, Is.Zero, run.Stdout + run.Stderr);
        Assert.That(run.Stdout, Is.EqualTo($"644 root\nmaxstartups {Render.SshMaxStartups}:30:{2 * Render.SshMaxStartups}\n"));
    }

    [Test]
    public void AKeyOfAnotherKindOrFormatIsRefused()
    {
        var (privateKey, publicKey) = HostKey("hostkey-test-node.ssh-host-key");
        Assert.That(Assert.Throws<ArgumentException>(() => Render.NodeUserData(publicKey, publicKey))!.Message,
            Is.EqualTo("the host key must be an OpenSSH private key (Parameter 'hostKeyPrivate')"));
        Assert.That(Assert.Throws<ArgumentException>(() => Render.NodeUserData(privateKey, "ssh-dss AAAA"))!.Message,
            Is.EqualTo("cloud-init installs no host key of kind 'ssh-dss' (Parameter 'hostKeyPublic')"));
    }

    // cloud-init installs ssh_keys by kind (cc_ssh.py CONFIG_KEY_TO_FILE: rsa, ecdsa, ed25519).
    [TestCase("ssh-ed25519", "ed25519")]
    [TestCase("ecdsa-sha2-nistp256", "ecdsa")]
    [TestCase("ecdsa-sha2-nistp384", "ecdsa")]
    [TestCase("ecdsa-sha2-nistp521", "ecdsa")]
    [TestCase("ssh-rsa", "rsa")]
    public void TheHostKeyIsGivenToCloudInitUnderItsKind(string type, string kind)
    {
        const string privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        var yaml = new YamlStream();
        yaml.Load(new StringReader(Render.NodeUserData(privateKey, $"{type} AAAAkey\n")));
        var keys = (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["ssh_keys"];

        Assert.That(keys.Children.Keys.Select(k => k.ToString()), Is.EquivalentTo(new[] { $"{kind}_private", $"{kind}_public" }));
        Assert.That(keys[$"{kind}_public"].ToString(), Is.EqualTo($"{type} AAAAkey"));
    }

    private string Pin(TestHost node, string publicKey)
    {
        var file = Path.Combine(_hosts.Dir, $"known_hosts-{Guid.NewGuid():N}");
        File.WriteAllText(file, $"{node.Address} {publicKey.Trim()}\n");
        return file;
    }

    private string[] Options(string knownHosts, TestHost node, string command) =>
    [
        "-i", _hosts.ClientKey, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
        "-o", "HostKeyAlgorithms=ecdsa-sha2-nistp256", "-o", "ConnectTimeout=5", $"root@{node.Address}", command,
    ];
}
