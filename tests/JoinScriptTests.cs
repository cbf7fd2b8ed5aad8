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
        _node.Stub("kubeadm", "touch /etc/kubernetes/kubelet.conf");
        _node.Stub("curl");
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
        Assert.That(join, Does.Not.Contain("client-key-data").And.Not.Contain("admin"));
        Assert.That(join, Does.Contain("    - name: node-labels\n      value: do-k8s-ha.io/droplet=1002"));
    }

    [Test]
    public void AJoinedWorkerIsLeftAlone()
    {
        var (exit, output) = _node.Run(Render.WorkerJoin(Fixtures.Node3, Fixtures.JoinToken, Fixtures.FakePki.CaCertHash, "1002"), ["/etc/kubernetes"], prepare: "touch /etc/kubernetes/kubelet.conf");

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("node3 has already joined"));
        Assert.That(_node.Log, Is.Empty);
    }
}
