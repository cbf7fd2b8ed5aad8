using System.Security.Cryptography;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// etcd-install.sh run for real, in a private mount namespace whose /usr/local/bin is scratch
/// space, against a curl stand-in that serves a release tarball laid out as etcd's are
/// (etcd-v&lt;version&gt;-linux-amd64/etcd, etcdctl): the checksum decides, and a second run
/// downloads nothing.
/// </summary>
[NonParallelizable]
public class EtcdInstallScriptTests
{
    private const string Version = "3.6.5";
    private StubbedNode _node = null!;
    private string _sha256 = "";

    [SetUp]
    public void Release()
    {
        _node = new StubbedNode();
        // The release as GitHub serves it; curl -o <file> <url> writes it.
        var release = Path.Combine(_node.Dir, "release", $"etcd-v{Version}-linux-amd64");
        Directory.CreateDirectory(release);
        foreach (var tool in new[] { "etcd", "etcdctl" })
        {
            File.WriteAllText(Path.Combine(release, tool), $"#!/usr/bin/env bash\necho \"{tool} Version: {Version}\"\n");
        }
        // `etcd --version` as etcd prints it: four lines, each its own write to an unbuffered
        // stdout (server/etcdmain/config.go, fmt.Printf per line), the later ones a moment after
        // the first here, so a reader that stops at the first line makes the rest fail (SIGPIPE).
        File.WriteAllText(Path.Combine(release, "etcd"), $"""
            #!/usr/bin/env bash
            echo "etcd Version: {Version}"
            sleep 0.3
            echo "Git SHA: 0000000"
            echo "Go Version: go1.24.0"
            echo "Go OS/Arch: linux/amd64"

            """);
        var tarball = Path.Combine(_node.State, "etcd.tar.gz");
        var tar = Repo.Run("tar", ["-czf", tarball, "-C", Path.Combine(_node.Dir, "release"), $"etcd-v{Version}-linux-amd64"]);
        Assert.That(tar.ExitCode, Is.Zero, tar.Stderr);
        _sha256 = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(tarball))).ToLowerInvariant();
        _node.Stub("curl", """
            out=""; url=""
            while [ $# -gt 0 ]; do
              case "$1" in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac
            done
            echo "$url" >> "$STATE/urls"
            cp "$STATE/etcd.tar.gz" "$out"
            """);
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private (int Exit, string Output) Install(string sha256) => _node.Run(Render.EtcdInstall(Version, sha256), ["/usr/local/bin"]);

    [Test]
    public void AVerifiedReleaseIsInstalledOnceAndKept()
    {
        var first = Install(_sha256);
        Assert.That(first.Exit, Is.Zero, first.Output);
        Assert.That(first.Output, Does.Contain($"installed etcd {Version}"));
        Assert.That(File.ReadAllText(_node.StatePath("urls")).Trim(),
            Is.EqualTo($"https://github.com/etcd-io/etcd/releases/download/v{Version}/etcd-v{Version}-linux-amd64.tar.gz"));
    }

    [Test]
    public void ATarballThatDoesNotMatchItsChecksumIsRefusedAndNothingIsInstalled()
    {
        var other = new string('0', 64);
        var run = Install(other);
        Assert.That(run.Exit, Is.Not.Zero);
        Assert.That(run.Output, Does.Contain("FAILED"));
        Assert.That(run.Output, Does.Not.Contain("installed etcd"));
    }

    [Test]
    public void ASecondRunWithTheReleaseInPlaceDownloadsNothing()
    {
        // Both runs in one sandbox: /usr/local/bin is kept between them, as on the node.
        var script = Render.EtcdInstall(Version, _sha256);
        var twice = _node.Run($"bash -c {Sh.Quote(script)}\nbash -c {Sh.Quote(script)}\n", ["/usr/local/bin"]);
        Assert.That(twice.Exit, Is.Zero, twice.Output);
        Assert.That(twice.Output, Does.Contain($"installed etcd {Version}").And.Contain($"etcd {Version} is installed"));
        Assert.That(File.ReadAllLines(_node.StatePath("urls")), Has.Length.EqualTo(1), "the second run fetched nothing");
    }
}
