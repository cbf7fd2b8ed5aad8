using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// A worker's join holds only the bootstrap token; the stale Node a replaced droplet left is
/// removed beforehand from a control-plane node (stale-node.sh), run for real against a kubectl
/// stand-in that keeps Node objects with their droplet label and Ready condition.
/// </summary>
[NonParallelizable]
public class JoinScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Stubs()
    {
        _node = new StubbedNode();
        // Node objects are files node-NAME holding "<droplet label>/<Ready status>". kubectl get
        // fails with NotFound for a missing object; delete removes it (kubectl's own exit codes).
        _node.Stub("kubectl", """
            for arg in "$@"; do name=${name:-}; case "$prev" in node) name=$arg ;; esac; prev=$arg; done
            case " $* " in
              *" get node "*) [ -f "$STATE/node-$name" ] || { echo "Error from server (NotFound): nodes \"$name\" not found" >&2; exit 1; }; cat "$STATE/node-$name" ;;
              *" delete node "*) rm -f "$STATE/node-$name" ;;
            esac
            """);
        // kubeadm join reads its --config before anything (cmd/kubeadm/app/cmd/join.go, newJoinData,
        // LoadOrDefaultJoinConfiguration; a missing file is "unable to read config from"), and
        // writes kubelet.conf once the kubelet has bootstrapped.
        _node.Stub("kubeadm", """
            cfg=""
            while [ $# -gt 0 ]; do case "$1" in --config) cfg=$2; shift 2 ;; *) shift ;; esac; done
            [ -n "$cfg" ] || { echo "kubeadm stand-in: a join without --config" >&2; exit 2; }
            [ -f "$cfg" ] || { echo "unable to read config from \"$cfg\"" >&2; exit 1; }
            grep -q '^kind: JoinConfiguration' "$cfg" || { echo "no JoinConfiguration in $cfg" >&2; exit 1; }
            cp "$cfg" "$STATE/join-config"
            touch /etc/kubernetes/kubelet.conf
            """);
        // The local proxy answers once it has an API server; until then curl -f fails (exit 7).
        _node.Stub("curl", """
            n=$(cat "$STATE/curl-calls" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/curl-calls"
            [ "$n" -ge "$(cat "$STATE/proxy-up-after" 2>/dev/null || echo 0)" ] || exit 7
            """);
        _node.Stub("sleep");
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private (int Exit, string Output) StaleNode(string dropletId = "1002") =>
        _node.Run(Render.StaleNode("node3", dropletId, kubeconfigFile: "/etc/kubernetes/admin.conf"), ["/etc/kubernetes"]);

    [Test]
    public void ANodeLeftByTheDropletThisOneReplacesIsDeleted()
    {
        _node.WriteState("node-node3", "1001/Unknown");

        var (exit, output) = StaleNode();

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("deleted the Node object node3 left by the machine droplet 1002 replaces"));
        Assert.That(File.Exists(_node.StatePath("node-node3")), Is.False);
        Assert.That(_node.Log, Does.Contain("--kubeconfig /etc/kubernetes/admin.conf"), "the control-plane node's own credential");
    }

    [TestCase("1002/True", "is this droplet's own")]
    [TestCase("1002/False", "is this droplet's own")]
    [TestCase("/True", "is Ready and names no droplet: left alone")]
    public void ANodeThatMayBeLiveIsLeftAlone(string state, string said)
    {
        _node.WriteState("node-node3", state);

        var (exit, output) = StaleNode();

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain(said));
        Assert.That(File.Exists(_node.StatePath("node-node3")), Is.True);
        Assert.That(_node.Log, Does.Not.Contain("delete"));
    }

    [Test]
    public void AnUnlabelledNodeThatIsNotReadyIsDeleted()
    {
        _node.WriteState("node-node3", "/False");

        var (exit, output) = StaleNode();

        Assert.That(exit, Is.Zero, output);
        Assert.That(File.Exists(_node.StatePath("node-node3")), Is.False);
    }

    [Test]
    public void ANewNodeFindsNothingToDelete()
    {
        var (exit, output) = StaleNode();

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("no Node node3 in the cluster"));
        Assert.That(_node.Log, Does.Not.Contain("delete"));
    }

    [Test]
    public void AWorkerJoinsWithItsTokenAloneAndLabelsItsNodeWithItsDroplet()
    {
        var join = Render.WorkerJoin(Fixtures.Node3, Fixtures.JoinToken, Fixtures.FakePki.CaCertHash, "1002");

        var (exit, output) = _node.Run(join, ["/etc/kubernetes"]);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("node3 joined as a worker"));
        Assert.That(_node.Log, Does.Contain("kubeadm join").And.Not.Contain("kubectl"));
        // What kubeadm read: the local proxy as the discovery endpoint, the token and the CA pin.
        var read = File.ReadAllText(_node.StatePath("join-config"));
        Assert.That(read, Does.Contain("apiServerEndpoint: 127.0.0.1:6444").And.Contain($"token: {Fixtures.JoinToken}").And.Contain(Fixtures.FakePki.CaCertHash));
        Assert.That(join, Does.Not.Contain("client-key-data").And.Not.Contain("admin"));
        Assert.That(join, Does.Contain("    - name: node-labels\n      value: do-k8s-ha.io/droplet=1002"));
    }

    /// <summary>
    /// The join token is a secret: kubeadm reads it from a file that goes with the step, and no
    /// file under /etc/kubernetes keeps it (an earlier release's join.yaml is removed). Issue 30.
    /// </summary>
    [Test]
    public void NoFileOnTheNodeKeepsTheJoinToken()
    {
        var join = Render.WorkerJoin(Fixtures.Node3, Fixtures.JoinToken, Fixtures.FakePki.CaCertHash, "1002");

        // The step's script in a subshell, then a look at what it left.
        var (exit, output) = _node.Run($"(\n{join}\n)\n" + $"grep -rl '{Fixtures.JoinToken}' /etc/kubernetes /run 2>/dev/null | sed 's/^/KEPT /' || true\n", ["/etc/kubernetes", "/run"],
            prepare: $"mkdir -p /etc/kubernetes/kubeadm && echo 'token: {Fixtures.JoinToken}' > /etc/kubernetes/kubeadm/join.yaml");

        Assert.That(exit, Is.Zero, output);
        Assert.That(File.ReadAllText(_node.StatePath("join-config")), Does.Contain($"token: {Fixtures.JoinToken}"), "kubeadm read it");
        Assert.That(output, Does.Not.Contain("KEPT "), "a file still holds the token");
    }

    [Test]
    public void AWorkerJoinsOnlyOnceItsLocalProxyAnswers()
    {
        _node.WriteState("proxy-up-after", "2");

        var (exit, output) = _node.Run(Render.WorkerJoin(Fixtures.Node3, Fixtures.JoinToken, Fixtures.FakePki.CaCertHash, "1002"), ["/etc/kubernetes"]);

        Assert.That(exit, Is.Zero, output);
        var calls = _node.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.That(calls.Count(c => c.StartsWith("curl ", StringComparison.Ordinal)), Is.EqualTo(3));
        Assert.That(calls.FindIndex(c => c.StartsWith("kubeadm join", StringComparison.Ordinal)), Is.GreaterThan(calls.FindLastIndex(c => c.StartsWith("curl ", StringComparison.Ordinal))));
        Assert.That(calls.First(c => c.StartsWith("curl ", StringComparison.Ordinal)), Does.Contain("https://127.0.0.1:6444/livez"));
    }

    [Test]
    public void AJoinedWorkerIsLeftAlone()
    {
        var (exit, output) = _node.Run(Render.WorkerJoin(Fixtures.Node3, Fixtures.JoinToken, Fixtures.FakePki.CaCertHash, "1002"), ["/etc/kubernetes"], prepare: "touch /etc/kubernetes/kubelet.conf");

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("node3 has already joined"));
        Assert.That(_node.Log, Is.Empty);
    }

    /// <summary>
    /// A token minted through the balancer's relay lands on a node the balancer admits. One with no
    /// admin.conf (no control-plane node of the cluster yet: in the replay, a droplet made anew at
    /// an address the balancer still admitted) fails the step; only the first control-plane node's
    /// token, minted before any cluster, may be empty.
    /// </summary>
    [TestCase(true, 0, "")]
    [TestCase(false, 1, "is no control-plane node of the cluster yet: it cannot mint node2's join token. Run pulumi up again")]
    public void OnANodeWithoutTheClusterOnlyTheFirstNodesTokenIsEmpty(bool mayPrecedeCluster, int exit, string message)
    {
        var (code, output) = _node.Run(Render.JoinTokenScript("node2", mayPrecedeCluster), scratch: ["/etc/kubernetes"]);

        Assert.That(code, Is.EqualTo(exit), output);
        Assert.That(output, Does.Contain(message));
        Assert.That(_node.Log, Does.Not.Contain("kubeadm token create"));
    }
}
