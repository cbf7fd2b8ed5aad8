using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered node-upgrade.sh run for real against stand-ins for kubeadm, kubelet, kubectl,
/// apt and systemd, in a private mount namespace whose /etc/apt and /var/lib are scratch space.
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
        foreach (var tool in new[] { "apt-get", "apt-mark", "curl" })
        {
            _node.Stub(tool);
        }
        // `gpg --dearmor --yes -o FILE` writes the key read on stdin to FILE, under the umask (g10/dearmor.c).
        _node.Stub("gpg", """
            out=""
            while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
            cat > "${out:-/dev/stdout}"
            """);
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private (int Exit, string Output, string Log) Upgrade(string node, bool first, string kubeletNow, string target = "1.36.0", bool drainedBefore = false, string[]? lost = null)
    {
        Assert.That(KubernetesVersion.TryParse(target, out var version), Is.True);
        _node.WriteState("kubelet", kubeletNow);
        _node.WriteState("target", target);
        _node.WriteState("self", node);
        _node.WriteState($"node-{node}", $"v{kubeletNow}//True");
        var (exit, output) = _node.Run(
            Render.NodeUpgrade(node, version, first, node.StartsWith("cp", StringComparison.Ordinal) ? "/etc/kubernetes/admin.conf" : null, waitSeconds: 2, lost: lost ?? []),
            scratch: ["/etc/apt", "/var/lib", "/etc/containerd"],
            prepare: "mkdir -p /etc/apt/keyrings /etc/apt/sources.list.d\nprintf '  sandbox_image = \"registry.k8s.io/pause:3.8\"\\n' > /etc/containerd/config.toml" + (drainedBefore ? "\nmkdir -p /var/lib/do-k8s-ha && touch /var/lib/do-k8s-ha/upgrade-drained" : ""));
        return (exit, output, _node.Log);
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
        Assert.That(log, Does.Contain("apt-get -o DPkg::Lock::Timeout=600 install -y -q kubeadm=1.36.0-*").And.Contains("kubelet=1.36.0-* kubectl=1.36.0-*"));
        Assert.That(output, Does.Contain("cp1 runs Kubernetes v1.36.0"));
        // The node state the stand-ins keep: drained when its kubelet restarted, schedulable at the end.
        Assert.That(File.ReadAllText(_node.StatePath("unschedulable-at-restart")).Trim(), Is.EqualTo("true"), "the kubelet restarts on a drained node");
        Assert.That(File.ReadAllText(_node.StatePath("node-cp1")).Trim(), Is.EqualTo("v1.36.0//True"));
        // The new release's pause image, as kubeadm names it, becomes containerd's sandbox image.
        Assert.That(output, Does.Contain("containerd's sandbox image is now registry.k8s.io/pause:3.10.1"));
        Assert.That(log, Does.Contain("systemctl restart containerd"));
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
