using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered worker-join.sh run for real against stand-ins for kubeadm, kubectl and curl: a
/// replacement machine deletes the Node object its dead predecessor left before it joins.
/// </summary>
[NonParallelizable]
public class JoinScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Stubs()
    {
        _node = new StubbedNode();
        // The cluster's Node objects are files node-NAME in the state folder.
        _node.Stub("kubectl", """
            for arg in "$@"; do name=$arg; done
            case " $* " in
              *" get node "*) [ -f "$STATE/node-$name" ] ;;
              *" delete node "*) rm "$STATE/node-$name" ;;
            esac
            """);
        _node.Stub("kubeadm", "touch /etc/kubernetes/kubelet.conf");
        _node.Stub("curl");
    }

    [TearDown]
    public void Remove() => _node.Dispose();

    private (int Exit, string Output) Join(string prepare = "") =>
        _node.Run(Render.WorkerJoin(Fixtures.Node3, Fixtures.FakePki.BootstrapToken, Fixtures.FakePki.CaCertHash, "apiVersion: v1"), ["/etc/kubernetes"], prepare);

    [Test]
    public void AReplacementDeletesTheStaleNodeObjectBeforeItJoins()
    {
        _node.WriteState("node-node3", "NotReady");

        var (exit, output) = Join();

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("deleted the Node object node3 left by the machine this one replaces"));
        var calls = _node.Log.Split('\n');
        var delete = Array.FindIndex(calls, c => c.StartsWith("kubectl", StringComparison.Ordinal) && c.EndsWith("delete node node3", StringComparison.Ordinal));
        var join = Array.FindIndex(calls, c => c.StartsWith("kubeadm join", StringComparison.Ordinal));
        Assert.That(delete, Is.GreaterThanOrEqualTo(0), _node.Log);
        Assert.That(join, Is.GreaterThan(delete), "the stale object goes before the join");
        Assert.That(calls[delete], Does.Contain("--server https://127.0.0.1:6444"), "workers ask through their local proxy");
        Assert.That(File.Exists(_node.StatePath("node-node3")), Is.False);
    }

    [Test]
    public void ANewNodeJoinsWithoutDeletingAnything()
    {
        var (exit, output) = Join();

        Assert.That(exit, Is.Zero, output);
        Assert.That(_node.Log, Does.Contain("kubeadm join").And.Not.Contains("delete"));
        Assert.That(output, Does.Contain("node3 joined as a worker"));
    }

    [Test]
    public void AJoinedNodeIsLeftAloneEvenWithItsNodeObject()
    {
        _node.WriteState("node-node3", "Ready");

        var (exit, output) = Join(prepare: "touch /etc/kubernetes/kubelet.conf");

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("node3 has already joined"));
        Assert.That(_node.Log, Is.Empty);
        Assert.That(File.Exists(_node.StatePath("node-node3")), Is.True);
    }
}
