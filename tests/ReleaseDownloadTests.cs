using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The download step (releases-start.sh, whose unit runs releases.sh) as a droplet runs it, against the real nginx serving stand-in
/// release files under their real names, fetched by the real curl (<see cref="DownloadNode"/>):
/// each file verified by the checksum the program gives, once; a mismatch refused with nothing
/// installed; an interrupted download resumed (nginx answers its range request with 206) or, when
/// what was left cannot complete to the file, fetched whole again.
/// </summary>
[NonParallelizable]
public class ReleaseDownloadTests
{
    private static readonly KubernetesVersion Version = new(1, 35, 8);
    private static readonly string[] Binaries = ["kubeadm", "kubelet", "kubectl"];
    private DownloadNode _node = null!;
    private NodeReleases _releases = null!;

    [SetUp]
    public void Serve()
    {
        _node = new DownloadNode();
        var sums = StandInReleases.Build(_node.Root, ReleaseTable.For(Version)!);
        _releases = ReleaseTable.For(Version, sums)!;
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private static string Step(NodeReleases releases, bool controlPlane = true) =>
        Render.StepScript(("releases", Render.ReleasesStart(releases, controlPlane, Render.CalicoNodeImages("v3.30.6"))));

    // The releases step as a droplet runs it, then node setup's wait for its unit
    // (wait_for_releases): Exit is the wait's, Output the wait's words and the unit's log (what
    // the downloads said), After what `after` printed once the wait ended.
    private (int Exit, string Output, string After) Downloads(NodeReleases releases, string after = "true")
    {
        var run = _node.Run(Step(releases), after: $$"""
            {{Render.ReleasesWait()}}
            wait_for_releases 2>&1
            echo "wait-exit=$?"
            cat /run/systemctl-stand-in/do-k8s-ha-releases.service.log 2>/dev/null
            echo "----then----"
            {{after}}
            """);
        Assert.That(run.Exit, Is.Zero, "the step starts the downloads and returns: " + run.Output);
        var parts = run.After.Split("----then----\n");
        var exit = int.Parse(System.Text.RegularExpressions.Regex.Match(parts[0], "wait-exit=([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return (exit, run.Output + parts[0], parts.Length > 1 ? parts[1] : "");
    }

    private static string PathOf(ReleaseArtefact a) => new Uri(a.Url).AbsolutePath;

    private int Fetches(ReleaseArtefact a) => _node.Requests.Split('\n').Count(l => l.Contains($"GET {PathOf(a)} ", StringComparison.Ordinal));

    [Test]
    public void EachFileIsFetchedOnceVerifiedAndInstalledThenContainerdRunsItsConfigAndTheImagesArePulled()
    {
        var run = Downloads(_releases, after: $$"""
            {{NodeCommands.WaitForPodNetworkImages}}
            echo "pod network: $(systemctl is-active do-k8s-ha-pod-network-images)"
            journalctl -u do-k8s-ha-pod-network-images -o cat
            crictl info
            for i in registry.k8s.io/kube-apiserver:v1.35.8 registry.k8s.io/pause:3.10.1 registry.k8s.io/etcd:3.6.6-0 quay.io/calico/node:v3.30.6 quay.io/calico/csi:v3.30.6; do
              crictl inspecti "$i" >/dev/null 2>&1 && echo "have $i" || echo "lack $i"
            done
            systemctl is-enabled kubelet; systemctl is-active kubelet || true
            """);
        Assert.That(run.Exit, Is.Zero, run.Output);
        foreach (var artefact in _releases.Artefacts)
        {
            Assert.That(Fetches(artefact), Is.EqualTo(1), $"{artefact.Name}: {_node.Requests}");
        }
        Assert.That(_node.Requests, Does.Not.Contain("\n4").And.Not.StartWith("4"), "every request found its file");
        foreach (var binary in Binaries)
        {
            var installed = _node.Disk($"/usr/local/bin/{binary}");
            Assert.That(installed, Is.Not.Null, binary);
            Assert.That(File.ReadAllBytes(installed!), Is.EqualTo(File.ReadAllBytes(Path.Combine(_node.Root, PathOf(_releases[binary]).TrimStart('/')))), binary);
        }
        Assert.That(_node.Disk("/usr/local/bin/containerd"), Is.Not.Null);
        Assert.That(_node.Disk("/usr/local/sbin/runc"), Is.Not.Null);
        Assert.That(_node.Disk("/usr/local/bin/crictl"), Is.Not.Null);
        Assert.That(_node.Disk("/opt/cni/bin/bridge"), Is.Not.Null);
        Assert.That(_node.Disk("/opt/cni/bin/LICENSE"), Is.Null, "only the plugins");
        // containerd as it read its config: version 3, kubeadm's pause image, the systemd cgroup driver.
        Assert.That(run.After, Does.Contain("\"version\": 3").And.Contain("\"sandbox\": \"registry.k8s.io/pause:3.10.1\"").And.Contain("\"SystemdCgroup\": true"));
        Assert.That(run.After, Does.Contain("have registry.k8s.io/kube-apiserver:v1.35.8").And.Contain("have registry.k8s.io/pause:3.10.1"));
        Assert.That(run.After, Does.Contain("lack registry.k8s.io/etcd:3.6.6-0"), "etcd runs outside the cluster");
        // Then the pod network's, for its pods to find, by a unit of their own.
        Assert.That(run.After, Does.Contain("pod network: inactive\npulled quay.io/calico/node:v3.30.6"), "the pull ended, and did not fail");
        Assert.That(run.After, Does.Contain("have quay.io/calico/node:v3.30.6").And.Contain("have quay.io/calico/csi:v3.30.6"));
        // Enabled, not started: kubeadm starts it, after the steps every kubelet start waits for.
        Assert.That(run.After, Does.Contain("enabled\ninactive"));
    }

    // The downloads run in a unit the step starts without waiting for it (systemctl --no-block):
    // the step returns while they go on (their pulls held here, as a registry that has not
    // answered yet), so it holds none of the engine's --parallel slots for them
    // (docs/performance.md). Node setup's wait then waits for their end, every image in.
    [Test]
    public void TheStepReturnsWhileTheDownloadsRunAndNodeSetupWaitsForTheirEnd()
    {
        var run = _node.Run(Step(_releases), before: "touch /run/crictl-stand-in.hold", after: $$"""
            echo "while held: $(systemctl is-active do-k8s-ha-releases)"
            crictl inspecti quay.io/calico/node:v3.30.6 >/dev/null 2>&1 && echo "while held: have calico/node"
            rm /run/crictl-stand-in.hold
            {{Render.ReleasesWait()}}
            wait_for_releases; echo "wait exit $?"
            echo "after: $(systemctl is-active do-k8s-ha-releases)"
            {{NodeCommands.WaitForPodNetworkImages}}
            for i in registry.k8s.io/kube-proxy:v1.35.8 quay.io/calico/node:v3.30.6 quay.io/calico/cni:v3.30.6; do
              crictl inspecti "$i" >/dev/null 2>&1 && echo "have $i" || echo "lack $i"
            done
            """);
        Assert.That(run.Exit, Is.Zero, run.Output);
        Assert.That(run.Output, Does.Contain("downloads Kubernetes v1.35.8 in the background"));
        Assert.That(run.After, Does.Contain("while held: activating").And.Not.Contain("while held: have"), run.After);
        Assert.That(run.After, Does.Contain("wait exit 0").And.Contain("after: active"), "the unit stays active once its run succeeded");
        Assert.That(run.After, Does.Contain("have registry.k8s.io/kube-proxy:v1.35.8").And.Contain("have quay.io/calico/node:v3.30.6").And.Contain("have quay.io/calico/cni:v3.30.6").And.Not.Contain("lack "));
    }

    // A `pulumi up` after failed downloads runs node setup again, whose wait runs them again: a
    // start of the oneshot after a failed run runs it anew (systemctl(1)); the step that started
    // them, which succeeded, does not run again.
    [Test]
    public void AfterFailedDownloadsTheNextWaitRunsThemAgain()
    {
        var kubectl = Path.Combine(_node.Root, PathOf(_releases["kubectl"]).TrimStart('/'));
        var kept = kubectl + ".kept";
        File.Move(kubectl, kept);
        var run = _node.Run(Step(_releases), after: $$"""
            {{Render.ReleasesWait()}}
            wait_for_releases; echo "first wait exit $?"
            echo "then: $(systemctl is-active do-k8s-ha-releases)"
            mv {{Sh.Quote(kept)}} {{Sh.Quote(kubectl)}}
            wait_for_releases; echo "second wait exit $?"
            echo "then: $(systemctl is-active do-k8s-ha-releases)"
            """);
        Assert.That(run.Exit, Is.Zero, run.Output);
        Assert.That(run.After, Does.Contain("the downloads failed on").And.Contain($"could not fetch {_releases["kubectl"].Url} (curl exit 22)"), "the wait shows the unit's words");
        Assert.That(run.After, Does.Contain("first wait exit 1\nthen: failed").And.Contain("second wait exit 0\nthen: active"), run.After);
        Assert.That(_node.Disk("/usr/local/bin/kubectl"), Is.Not.Null);
    }

    [Test]
    public void ASecondRunFetchesNothingAndChangesNothing()
    {
        var first = Downloads(_releases);
        Assert.That(first.Exit, Is.Zero, first.Output);
        var requests = _node.Requests;
        var kubelet = File.GetLastWriteTimeUtc(_node.Disk("/usr/local/bin/kubelet")!);
        var config = File.GetLastWriteTimeUtc(_node.Disk("/etc/containerd/config.toml")!);

        var second = Downloads(_releases);
        Assert.That(second.Exit, Is.Zero, second.Output);
        Assert.That(_node.Requests, Is.EqualTo(requests), "no request the second time");
        Assert.That(second.Output, Does.Contain("kubelet 1.35.8: in the cache").And.Not.Contain("pulled "));
        Assert.That(File.GetLastWriteTimeUtc(_node.Disk("/usr/local/bin/kubelet")!), Is.EqualTo(kubelet));
        Assert.That(File.GetLastWriteTimeUtc(_node.Disk("/etc/containerd/config.toml")!), Is.EqualTo(config));
    }

    [Test]
    public void AFileWhoseChecksumDiffersIsRefusedAndNothingIsInstalled()
    {
        var wrong = new string('0', 64);
        var releases = ReleaseTable.For(Version, _releases.Artefacts.ToDictionary(a => a.Name, a => a.Name == "kubelet" ? wrong : a.Sha256))!;
        var run = Downloads(releases);
        Assert.That(run.Exit, Is.Not.Zero);
        Assert.That(run.Output, Does.Contain($"refused {_releases["kubelet"].Url}: its sha256 is {_releases["kubelet"].Sha256}, not {wrong}"));
        Assert.That(_node.Disk("/usr/local/bin/kubeadm"), Is.Null, "nothing is installed before every file is verified");
        Assert.That(_node.Disk($"/var/cache/do-k8s-ha/releases/kubelet/{Version}/kubelet"), Is.Null);
        Assert.That(_node.Disk($"/var/cache/do-k8s-ha/releases/kubelet/{Version}/kubelet.part"), Is.Null, "the refused file is removed");
    }

    [Test]
    public void AnInterruptedDownloadIsResumedWhereItStopped()
    {
        // nginx sends 4 KB a second; the downloads are stopped after 2 s, in kubeadm's download
        // (a stop signals the unit's processes, curl's too: systemd.kill(5)).
        var interrupted = _node.Run(Step(_releases), rateLimit: "4k", after: "sleep 2; systemctl stop do-k8s-ha-releases");
        Assert.That(interrupted.Exit, Is.Zero, interrupted.Output);
        var part = _node.Disk($"/var/cache/do-k8s-ha/releases/kubeadm/{Version}/kubeadm.part");
        Assert.That(part, Is.Not.Null, interrupted.Output);
        var had = new FileInfo(part!).Length;
        Assert.That(had, Is.GreaterThan(0));

        var run = Downloads(_releases);
        Assert.That(run.Exit, Is.Zero, run.Output);
        Assert.That(run.Output, Does.Contain("kubeadm 1.35.8: resuming an interrupted download"));
        Assert.That(_node.Requests, Does.Contain($"206 {new FileInfo(Path.Combine(_node.Root, PathOf(_releases["kubeadm"]).TrimStart('/'))).Length - had} \"bytes={had}-\" \"GET {PathOf(_releases["kubeadm"])} "),
            "only the rest is sent");
        Assert.That(_node.Disk("/usr/local/bin/kubeadm"), Is.Not.Null);
    }

    // Seen failing before the fix: in the command substitution that calls it, fetch_release runs
    // without errexit (bash clears -e there), so a curl that failed went on to the checksum, which
    // "refused" a file that never came (an empty sha256) and removed what had arrived.
    [Test]
    public void AFileTheServerDoesNotHaveFailsTheStepSayingSoNotAsAChecksumMismatch()
    {
        File.Delete(Path.Combine(_node.Root, PathOf(_releases["kubectl"]).TrimStart('/')));
        var run = Downloads(_releases);
        Assert.That(run.Exit, Is.Not.Zero);
        Assert.That(run.Output, Does.Contain($"could not fetch {_releases["kubectl"].Url} (curl exit 22)"));
        Assert.That(run.Output, Does.Not.Contain("refused"));
        Assert.That(_node.Disk("/usr/local/bin/kubeadm"), Is.Null, "nothing is installed");
    }

    [Test]
    public void ALeftOverPartThatIsNotTheFilesBeginningIsDroppedAndTheFileFetchedWhole()
    {
        var cache = Directory.CreateDirectory(Path.Combine(_node.Dir, "upper", "var", "cache", "do-k8s-ha", "releases", "kubectl", Version.ToString())).FullName;
        File.WriteAllBytes(Path.Combine(cache, "kubectl.part"), new byte[1000]);
        var run = Downloads(_releases);
        Assert.That(run.Exit, Is.Zero, run.Output);
        var path = PathOf(_releases["kubectl"]);
        var lines = _node.Requests.Split('\n').Where(l => l.Contains($"GET {path} ", StringComparison.Ordinal)).ToList();
        Assert.That(lines, Has.Count.EqualTo(2), _node.Requests);
        Assert.That(lines[0], Does.StartWith("206 ").And.Contain("\"bytes=1000-\""), "resumed first");
        Assert.That(lines[1], Does.StartWith("200 ").And.Contain("\"-\""), "then fetched whole");
        Assert.That(File.ReadAllBytes(_node.Disk("/usr/local/bin/kubectl")!), Is.EqualTo(File.ReadAllBytes(Path.Combine(_node.Root, path.TrimStart('/')))));
    }
}
