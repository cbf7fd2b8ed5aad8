using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered node-upgrade.sh run for real against stand-ins for kubeadm, kubelet, kubectl,
/// apt, dpkg, crictl and systemd, in a private mount namespace whose /etc, /usr/local, /opt and
/// /var are overlays (the target's release files installed for real, from the stand-in files).
/// What is checked is the script's own logic: its turn, its kubeadm command, drain and uncordon.
/// </summary>
[NonParallelizable]
public class NodeUpgradeScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Stubs()
    {
        _node = new StubbedNode();
        _node.Stub("kubelet", "echo \"Kubernetes v$(cat \"$STATE/kubelet\")\"");
        // A node's state is "version/unschedulable/Ready", what the script's jsonpath reads. drain
        // cordons first (kubectl/pkg/drain/cordon.go, RunCordonOrUncordon), uncordon clears it.
        _node.Stub("kubectl", """
            # `get nodes -l node-role.kubernetes.io/control-plane`: the control-plane Nodes ($STATE/control-planes)
            # as the script's jsonpath prints them, name=Ready status a line.
            if [ "$1 $2 $3 $4" = "--kubeconfig /etc/kubernetes/admin.conf --request-timeout=20s get" ] && [ "$5 $6 $7" = "nodes -l node-role.kubernetes.io/control-plane" ]; then
              for n in $(cat "$STATE/control-planes"); do IFS=/ read -r _ _ ready < "$STATE/node-$n"; echo "$n=$ready"; done
              exit 0
            fi
            verb=""; name=""; mark=""
            for arg in "$@"; do
              case "$prev" in node | drain | uncordon | cordon) [ -n "$name" ] || name=$arg ;; esac
              case "$arg" in get | drain | uncordon | cordon | annotate) verb=$arg ;; esac
              case "$arg" in do-k8s-ha/upgrade-drained=* | do-k8s-ha/upgrade-drained-) mark=$arg ;; esac
              prev=$arg
            done
            file="$STATE/node-$name"
            [ -f "$file" ] || { echo "Error from server (NotFound): nodes \"$name\" not found" >&2; exit 1; }
            IFS=/ read -r version unschedulable ready < "$file"
            # An annotation lives on the Node object (the API server's), whichever node asks: `key=value`
            # sets it, `key-` removes it (kubectl/pkg/cmd/annotate/annotate.go, parseAnnotations).
            case "$verb" in
              get)
                printf '%s' "$(cat "$file")"
                case "$*" in *'{.metadata.annotations.do-k8s-ha/upgrade-drained}'*) printf '/%s' "$(cat "$STATE/annotation-$name" 2>/dev/null)" ;; esac ;;
              annotate)
                case "$mark" in
                  *-) rm -f "$STATE/annotation-$name" ;;
                  *) printf '%s' "${mark#*=}" > "$STATE/annotation-$name" ;;
                esac
                echo "node/$name annotated" ;;
              drain | cordon)
                # Evictions that take longer than the timeout around the call (the timeout stand-in's
                # TIMEOUT_LIMIT) never complete: the call is killed first.
                if [ "$verb" = drain ] && [ -n "${TIMEOUT_LIMIT:-}" ] && [ "$(cat "$STATE/drain-seconds" 2>/dev/null || echo 0)" -gt "$TIMEOUT_LIMIT" ]; then exit 124; fi
                echo "$version/true/$ready" > "$file"; echo "node/$name cordoned" ;;
              uncordon) echo "$version//$ready" > "$file"; echo "node/$name uncordoned" ;;
            esac
            """);
        // Restarting the kubelet brings the node back on the installed version, Ready, and no more
        // schedulable than it was: a cordon stays until an uncordon.
        _node.Stub("systemctl", """
            if [ "$*" = "restart kubelet" ]; then
              self=$(cat "$STATE/self")
              IFS=/ read -r _ unschedulable _ < "$STATE/node-$self"
              echo "$unschedulable" > "$STATE/unschedulable-at-restart"
              cp "$STATE/target" "$STATE/kubelet"
              echo "v$(cat "$STATE/target")/$unschedulable/True" > "$STATE/node-$self"
            fi
            """);
        // `kubeadm config images list --kubernetes-version` prints the release's images, the pause
        // image among them (cmd/kubeadm/app/images/images.go GetControlPlaneImages, constants.PauseVersion).
        _node.Stub("kubeadm", """
            case "$*" in
              "config images list --kubernetes-version "*) printf 'registry.k8s.io/kube-apiserver:%s\nregistry.k8s.io/pause:3.10.1\n' "${@: -1}" ;;
            esac
            """);
        // The release files of the target (tests/Support/StandInReleases), served by URL path:
        // `curl ... -o FILE URL` writes the file (a range request is not needed here).
        var served = Path.Combine(_node.Dir, "www");
        _sums = StandInReleases.Build(served, ReleaseTable.For(Target)!);
        _node.Stub("curl", $$"""
            out=""; url=""
            while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; -C) shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
            cp "{{served}}/${url#https://*/}" "$out"
            """);
        // Packages an earlier release of the program installed ($STATE/packages, one a line), the
        // held ones also in $STATE/held, as the real tools report and change them (the delivered
        // run is PackagedNodeUpgradeTests): dpkg-query's ${Status} is "want eflag status", the
        // want "hold" for a held package, and ${db:Status-Status} the status word alone
        // (dpkg-query(1)); apt-mark hold and unhold set and clear the hold (apt-mark(8)); apt-get
        // remove -y refuses a held package ("Held packages were changed and -y was used without
        // --allow-change-held-packages", apt-private/private-install.cc), or takes them away.
        _node.Stub("dpkg-query", """
            p=${*: -1}
            grep -qx "$p" "$STATE/packages" 2>/dev/null || { echo "dpkg-query: no packages found matching $p" >&2; exit 1; }
            want=install
            grep -qx "$p" "$STATE/held" 2>/dev/null && want=hold
            case "$*" in
              *'${db:Status-Status}'*) printf installed ;;
              *'${Status}'*) printf '%s ok installed' "$want" ;;
              *) echo "the dpkg-query stand-in prints \${Status} and \${db:Status-Status} only" >&2; exit 2 ;;
            esac
            """);
        _node.Stub("apt-get", """
            if [[ " $* " == *" remove "* ]]; then
              for p in "$@"; do
                if grep -qx -- "$p" "$STATE/held" 2>/dev/null; then
                  echo "E: Held packages were changed and -y was used without --allow-change-held-packages." >&2
                  exit 100
                fi
              done
              for p in "$@"; do sed -i "/^$p\$/d" "$STATE/packages"; done
            fi
            """);
        _node.Stub("apt-mark", """
            verb=$1; shift
            for p in "$@"; do
              case "$verb" in
                hold) echo "$p" >> "$STATE/held" ;;
                unhold) sed -i "/^$p\$/d" "$STATE/held" 2>/dev/null || true ;;
              esac
            done
            """);
        _node.Stub("crictl", "[ \"$1\" = info ]");
    }

    private static readonly KubernetesVersion Target = new(1, 36, 0);
    private Dictionary<string, string> _sums = [];

    [TearDown]
    public void Remove() => _node?.Dispose();

    /// <summary>A file of the node's disk after the run (the overlays' upper layers), or null.</summary>
    private string? Disk(string path)
    {
        var layer = new[] { "etc", "usr/local", "opt", "var" }.First(l => path.StartsWith("/" + l + "/", StringComparison.Ordinal));
        var file = Path.Combine(_node.Dir, "upper", layer.Replace('/', '-'), path[(layer.Length + 2)..]);
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    private (int Exit, string Output, string Log) Upgrade(string node, bool first, string kubeletNow, string target = "1.36.0", bool drainedBefore = false, string[]? lost = null, string prepare = "")
    {
        Assert.That(KubernetesVersion.TryParse(target, out var version), Is.True);
        _node.WriteState("kubelet", kubeletNow);
        _node.WriteState("target", target);
        _node.WriteState("self", node);
        _node.WriteState($"node-{node}", $"v{kubeletNow}//True");
        var (exit, output) = _node.Run(
            Render.NodeUpgrade(node, ReleaseTable.For(version, _sums)!, first, node.StartsWith("cp", StringComparison.Ordinal) ? "/etc/kubernetes/admin.conf" : null, waitSeconds: 2, lost: lost ?? []),
            scratch: [],
            prepare: prepare + (drainedBefore ? "\nmkdir -p /var/lib/do-k8s-ha && touch /var/lib/do-k8s-ha/upgrade-drained" : ""),
            overlays: ["/etc", "/usr/local", "/opt", "/var"]);
        return (exit, output, _node.Log);
    }

    // The releases step's unit fills the cache with the target's files while the step that
    // started it has returned: the upgrade first waits for it (a start of the oneshot, which
    // returns when its run ends), and a failed run stops the upgrade before kubeadm, with its log.
    [Test]
    public void TheUpgradeWaitsForTheNodesDownloadsAndStopsWhenTheyFailed()
    {
        const string unit = "mkdir -p /etc/systemd/system && touch /etc/systemd/system/do-k8s-ha-releases.service";
        var (exit, output, log) = Upgrade("cp2", first: false, kubeletNow: "1.35.1", prepare: unit);
        Assert.That(exit, Is.Zero, output);
        var lines = log.Split('\n').ToList();
        var wait = lines.IndexOf("systemctl start do-k8s-ha-releases.service");
        Assert.That(wait, Is.GreaterThanOrEqualTo(0), log);
        Assert.That(wait, Is.LessThan(lines.FindIndex(l => l.StartsWith("curl", StringComparison.Ordinal))), "before any file is fetched here");

        var before = log.Length;
        _node.Stub("systemctl", """[ "$*" != "start do-k8s-ha-releases.service" ] || exit 1""");
        _node.Stub("journalctl", "echo 'refused https://dl.k8s.io/kubelet: its sha256 is 1, not 2'");
        var (failed, said, _) = Upgrade("cp3", first: false, kubeletNow: "1.35.1", prepare: unit);
        Assert.That(failed, Is.Not.Zero);
        Assert.That(said, Does.Contain("the downloads failed on").And.Contain("refused https://dl.k8s.io/kubelet"));
        Assert.That(_node.Log[before..], Does.Contain("systemctl start do-k8s-ha-releases.service").And.Not.Contain("kubeadm upgrade").And.Not.Contain("curl"));
    }

    [Test]
    public void TheFirstNodeRunsUpgradeApplyThenDrainsUpgradesAndUncordons()
    {
        var (exit, output, log) = Upgrade("cp1", first: true, kubeletNow: "1.35.1");

        Assert.That(exit, Is.Zero, output);
        var steps = log.Split('\n').Where(l => (l.StartsWith("kubeadm", StringComparison.Ordinal) && !l.StartsWith("kubeadm config", StringComparison.Ordinal)) || l.Contains(" drain ", StringComparison.Ordinal) || l.Contains("uncordon", StringComparison.Ordinal) || l.StartsWith("systemctl restart kubelet", StringComparison.Ordinal)).ToList();
        Assert.That(steps[0], Is.EqualTo("kubeadm upgrade apply --yes v1.36.0"));
        Assert.That(steps[1], Does.Contain("drain cp1"));
        Assert.That(steps[2], Is.EqualTo("systemctl restart kubelet"));
        Assert.That(steps[3], Does.Contain("uncordon cp1"));
        Assert.That(log, Does.Not.Contain("apt-get"), "a node set up from the release files has no package to remove");
        Assert.That(Disk("/usr/local/bin/kubelet"), Does.Contain("kubelet-stand-in-"), "the target's kubelet");
        Assert.That(Disk("/usr/local/bin/kubeadm"), Does.Contain("KUBEADM_STAND_IN_VERSION:-v1.36.0"), "the target's kubeadm");
        Assert.That(output, Does.Contain("cp1 runs Kubernetes v1.36.0"));
        // The node state the stand-ins keep: drained when its kubelet restarted, schedulable at the end.
        Assert.That(File.ReadAllText(_node.StatePath("unschedulable-at-restart")).Trim(), Is.EqualTo("true"), "the kubelet restarts on a drained node");
        Assert.That(File.ReadAllText(_node.StatePath("node-cp1")).Trim(), Is.EqualTo("v1.36.0//True"));
        // The new release's pause image, as kubeadm names it, becomes containerd's sandbox image.
        Assert.That(Disk("/etc/containerd/config.toml"), Does.Contain("version = 3").And.Contain("sandbox = 'registry.k8s.io/pause:3.10.1'"));
        Assert.That(log, Does.Contain("systemctl restart containerd"));
        var containerd = log.IndexOf("systemctl restart containerd", StringComparison.Ordinal);
        Assert.That(containerd, Is.GreaterThan(log.IndexOf(" drain cp1", StringComparison.Ordinal)).And.LessThan(log.IndexOf("systemctl restart kubelet", StringComparison.Ordinal)),
            "containerd moves while the node is drained, before its kubelet restarts");
    }

    /// <summary>
    /// A node an earlier release set up from packages (kubeadm, kubelet, kubectl held from
    /// pkgs.k8s.io; Ubuntu's containerd 1.7 and runc, with a version 2 config): its packages are
    /// removed while it is drained, before the release files take their places (so no package
    /// removal takes one of them afterwards), containerd's config becomes version 3 and containerd
    /// restarts on the same root, where its images are, before the kubelet restarts.
    /// </summary>
    [Test]
    public void ANodeSetUpFromPackagesMovesToTheReleaseFilesAndContainerd2KeepingItsImages()
    {
        _node.WriteState("packages", "kubelet\nkubeadm\nkubectl\nkubernetes-cni\ncontainerd\nruncx\nrunc\n");
        _node.WriteState("held", "kubelet\nkubeadm\nkubectl\n");
        var (exit, output, log) = Upgrade("cp2", first: false, kubeletNow: "1.35.8", prepare: """
            mkdir -p /etc/containerd /var/lib/containerd/io.containerd.metadata.v1.bolt
            printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.8"\n' > /etc/containerd/config.toml
            echo images > /var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db
            """);

        Assert.That(exit, Is.Zero, output);
        var lines = log.Split('\n').ToList();
        var removal = lines.FindIndex(l => l.StartsWith("apt-get ", StringComparison.Ordinal) && l.Contains(" remove ", StringComparison.Ordinal));
        Assert.That(removal, Is.GreaterThanOrEqualTo(0), log);
        Assert.That(lines[removal], Does.EndWith("remove -y -q kubelet kubeadm kubectl kubernetes-cni containerd runc"), "every package an earlier release installed, and no other");
        Assert.That(removal, Is.GreaterThan(lines.FindIndex(l => l.Contains(" drain cp2", StringComparison.Ordinal))), "while drained");
        Assert.That(removal, Is.LessThan(lines.IndexOf("systemctl restart containerd")), "before the release's containerd starts");
        Assert.That(File.ReadAllText(_node.StatePath("packages")), Is.EqualTo("runcx\n"), "the packages are gone");
        var config = Disk("/etc/containerd/config.toml");
        Assert.That(config, Does.StartWith("#").And.Contain("version = 3").And.Not.Contain("sandbox_image"));
        Assert.That(config, Does.Not.Contain("root ="), "containerd 2 keeps the default root, where the images are");
        Assert.That(Disk("/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"), Is.EqualTo("images\n"), "containerd's metadata is kept");
        Assert.That(Disk("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"), Does.Contain("ExecStart=/usr/local/bin/kubelet "), "the package's drop-in is masked");
        Assert.That(output, Does.Contain("removed the distribution's kubelet kubeadm kubectl kubernetes-cni containerd runc"));
    }

    /// <summary>
    /// kubeadm upgrade apply's preflight wants every control-plane Node Ready (phases/upgrade/health.go,
    /// controlPlaneNodesReady, run by phases/upgrade/apply/preflight.go). A dead node listed in
    /// lostNodes is passed by with that one check ignored; any other NotReady control-plane node
    /// keeps the check, and kubeadm stops the upgrade.
    /// </summary>
    [TestCase("cp1", "--ignore-preflight-errors=ControlPlaneNodesReady ")]
    [TestCase("cp3", "")]
    public void UpgradeApplyPassesByOnlyALostControlPlaneNode(string notReady, string flag)
    {
        _node.WriteState("control-planes", "cp1\ncp2\ncp3\n");
        _node.WriteState("node-cp1", "v1.35.1//Unknown");
        _node.WriteState("node-cp3", "v1.35.1//True");
        _node.WriteState($"node-{notReady}", "v1.35.1//Unknown");

        var (exit, output, log) = Upgrade("cp2", first: true, kubeletNow: "1.35.1", lost: ["cp1"]);

        Assert.That(exit, Is.Zero, output);
        Assert.That(log.Split('\n'), Does.Contain($"kubeadm upgrade apply --yes {flag}v1.36.0"));
    }

    [Test]
    public void ANodeThatDoesNotComeBackReadyFailsSayingSo()
    {
        // The kubelet restarts on the old version (a broken package): the node never reports TARGET.
        _node.Stub("systemctl", "true");

        var (exit, output, _) = Upgrade("cp2", first: false, kubeletNow: "1.35.1");

        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("upgrade of cp2: cp2 did not come back Ready within 2s"));
    }

    [Test]
    public void ANodeAfterTheFirstRunsUpgradeNode()
    {
        var (exit, output, log) = Upgrade("worker1", first: false, kubeletNow: "1.35.1");

        Assert.That(exit, Is.Zero, output);
        Assert.That(log, Does.Contain("kubeadm upgrade node").And.Not.Contains("upgrade apply"));
    }

    [Test]
    public void ASecondRunLeavesAnUpgradedNodeAndAnOperatorsCordonAlone()
    {
        var (exit, output, log) = Upgrade("worker1", first: false, kubeletNow: "1.36.0");

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("worker1 already runs Kubernetes v1.36.0"));
        Assert.That(log, Does.Not.Contain("uncordon").And.Not.Contains("kubeadm").And.Not.Contains("drain"));
    }

    [Test]
    public void ARunAfterAFailureUncordonsTheNodeItDrained()
    {
        var (exit, output, log) = Upgrade("cp2", first: false, kubeletNow: "1.36.0", drainedBefore: true);

        Assert.That(exit, Is.Zero, output);
        Assert.That(log, Does.Contain("uncordon cp2"));
    }

    [Test]
    public void AWorkerUpgradesWithoutTouchingTheApi()
    {
        // No credential on a worker: a control-plane node drains and uncordons it (worker-drain.sh).
        var (exit, output, log) = Upgrade("worker1", first: false, kubeletNow: "1.35.1");

        Assert.That(exit, Is.Zero, output);
        Assert.That(log, Does.Contain("kubeadm upgrade node").And.Contain("systemctl restart kubelet"));
        Assert.That(log.Split('\n'), Has.None.StartsWith("kubectl "), "no API call from the worker");
        Assert.That(output, Does.Contain("worker1 runs Kubernetes v1.36.0"));
    }

    /// <summary>
    /// worker-drain.sh run on a control-plane node; each run has a /var/lib of its own, as each
    /// may land on a different control-plane node (the balancer's relay). drainedBefore: an
    /// earlier drain left its mark on the Node.
    /// </summary>
    private (int Exit, string Output, string Log) Drain(bool drain, string? nodeState = null, bool drainedBefore = false)
    {
        if (nodeState is not null)
        {
            _node.WriteState("node-worker1", nodeState);
        }
        if (drainedBefore)
        {
            _node.WriteState("annotation-worker1", "v" + Fixtures.K8sVersion);
        }
        var (exit, output) = _node.Run(Render.WorkerDrain("worker1", Fixtures.K8sVersion, drain, waitSeconds: 2), scratch: ["/var/lib"]);
        return (exit, output, _node.Log);
    }

    /// <summary>
    /// The drain and the uncordon run through the balancer's relay, each on whichever control-plane
    /// node is alive: a worker drained through one is uncordoned through another.
    /// </summary>
    [Test]
    public void AWorkerDrainedThroughOneControlPlaneNodeIsUncordonedThroughAnother()
    {
        var (drained, drainOutput, _) = Drain(drain: true, "v1.34.2//True");
        Assert.That(drained, Is.Zero, drainOutput);
        // Its upgrade step: the new kubelet, still cordoned.
        _node.WriteState("node-worker1", $"v{Fixtures.K8sVersion}/true/True");

        var (exit, output, log) = Drain(drain: false);

        Assert.That(exit, Is.Zero, output);
        Assert.That(log, Does.Contain("uncordon worker1"));
        Assert.That(File.Exists(_node.StatePath("annotation-worker1")), Is.False, "the mark is taken off once uncordoned");
    }

    [Test]
    public void AControlPlaneNodeDrainsAWorkerThatIsNotUpgradedYet()
    {
        var (exit, output, log) = Drain(drain: true, "v1.34.2//True");

        Assert.That(exit, Is.Zero, output);
        Assert.That(log, Does.Contain("drain worker1").And.Contain("--kubeconfig /etc/kubernetes/admin.conf"));
    }

    /// <summary>
    /// coreutils `timeout DURATION COMMAND` kills COMMAND once DURATION has passed and exits 124
    /// (src/timeout.c). Time here is the stand-ins' declared durations: the drain's evictions take
    /// drain-seconds, and sleep returns at once.
    /// </summary>
    private void SlowEvictions(int seconds)
    {
        _node.WriteState("drain-seconds", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _node.Stub("timeout", "limit=${1%s}; shift; TIMEOUT_LIMIT=$limit exec \"$@\"");
        _node.Stub("sleep");
    }

    [Test]
    public void ASlowWorkerDrainIsNotKilledBeforeItsOwnTimeout()
    {
        // 90 s of evictions: within kubectl drain's --timeout=300s.
        SlowEvictions(90);

        var (exit, output, log) = Drain(drain: true, "v1.34.2//True");

        Assert.That(exit, Is.Zero, output);
        Assert.That(log.Split('\n').Count(l => l.StartsWith("kubectl ", StringComparison.Ordinal) && l.Contains(" drain worker1", StringComparison.Ordinal)), Is.EqualTo(1), log);
    }

    [Test]
    public void ASlowControlPlaneDrainIsNotKilledBeforeItsOwnTimeout()
    {
        SlowEvictions(90);

        var (exit, output, log) = Upgrade("cp2", first: false, kubeletNow: "1.35.1");

        Assert.That(exit, Is.Zero, output);
        Assert.That(log.Split('\n').Count(l => l.StartsWith("kubectl ", StringComparison.Ordinal) && l.Contains(" drain cp2", StringComparison.Ordinal)), Is.EqualTo(1), log);
    }

    [Test]
    public void ADrainThatTimesOutIsTriedThreeTimesThenFails()
    {
        // Evictions that never finish within the bound (a PodDisruptionBudget that allows none).
        SlowEvictions(1000);

        var (exit, output, log) = Drain(drain: true, "v1.34.2//True");

        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(log.Split('\n').Count(l => l.StartsWith("kubectl ", StringComparison.Ordinal) && l.Contains(" drain worker1", StringComparison.Ordinal)), Is.EqualTo(3), log);
    }

    [Test]
    public void AnUpgradedWorkerIsNotDrainedAgain()
    {
        var (exit, output, log) = Drain(drain: true, "v1.35.1//True");

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("worker1 already runs Kubernetes v1.35.1: not drained"));
        Assert.That(log, Does.Not.Contain("drain worker1"));
    }

    [TestCase(true, "uncordon worker1")]
    [TestCase(false, null)]
    public void AfterItsUpgradeAWorkerIsUncordonedOnlyIfItWasDrainedForIt(bool drainedBefore, string? uncordon)
    {
        var (exit, output, log) = Drain(drain: false, "v1.35.1/true/True", drainedBefore);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("worker1 runs Kubernetes v1.35.1, Ready"));
        Assert.That(log, uncordon is null ? Does.Not.Contain("uncordon") : Does.Contain(uncordon));
    }

    [Test]
    public void AWorkerThatDoesNotComeBackFailsTheUncordonStepSayingSo()
    {
        var (exit, output, _) = Drain(drain: false, "v1.34.2//False", drainedBefore: true);

        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("upgrade of worker1: it did not come back Ready on v1.35.1 within 2s"));
    }
}
