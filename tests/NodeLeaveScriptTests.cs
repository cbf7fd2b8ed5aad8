using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered node-leave.sh, as it runs on a surviving control-plane node, against a stand-in
/// kubectl whose Node objects are files: node-NAME holds the node's Ready status.
/// </summary>
[NonParallelizable]
public class NodeLeaveScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Stubs()
    {
        _node = new StubbedNode();
        _node.Stub("kubectl", """
            [ -f "$STATE/api-down" ] && exit 1
            for arg in "$@"; do [ "$prev" = node ] && name=$arg; prev=$arg; done
            case " $* " in
              *" get node "*" -o jsonpath="*) cat "$STATE/node-$name" ;;
              *" get node "*) [ -f "$STATE/node-$name" ] ;;
              *" drain "*) ;;
              *" delete node "*) rm -f "$STATE/node-$name" ;;
              *) exit 1 ;;
            esac
            """);
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private (int Exit, string Output) Leave() => _node.Run(Render.NodeLeave("worker3", kubeconfigFile: "/dev/null"), scratch: []);

    [Test]
    public void ALiveNodeIsDrainedThenDeleted()
    {
        _node.WriteState("node-worker3", "True");

        var (exit, output) = Leave();

        Assert.That(exit, Is.Zero, output);
        var calls = _node.Log.Split('\n');
        var drain = Array.FindIndex(calls, c => c.Contains(" drain worker3 ", StringComparison.Ordinal));
        var delete = Array.FindIndex(calls, c => c.Contains(" delete node worker3", StringComparison.Ordinal));
        Assert.That(drain, Is.GreaterThanOrEqualTo(0), _node.Log);
        Assert.That(delete, Is.GreaterThan(drain));
        Assert.That(output, Does.Contain("worker3 left the cluster"));
        Assert.That(File.Exists(_node.StatePath("node-worker3")), Is.False);
    }

    [Test]
    public void ADeadNodeIsDeletedWithoutWaitingForADrain()
    {
        _node.WriteState("node-worker3", "Unknown");

        var (exit, output) = Leave();

        Assert.That(exit, Is.Zero, output);
        Assert.That(_node.Log, Does.Not.Contain("drain"));
        Assert.That(output, Does.Contain("worker3 is not Ready: deleting it without a drain"));
        Assert.That(File.Exists(_node.StatePath("node-worker3")), Is.False);
    }

    [Test]
    public void ANodeThatIsGoneOrAClusterThatDoesNotAnswerIsNoError()
    {
        var gone = Leave();
        Assert.That(gone.Exit, Is.Zero, gone.Output);
        Assert.That(gone.Output, Does.Contain("nothing to remove"));

        _node.WriteState("api-down", "");
        var down = Leave();
        Assert.That(down.Exit, Is.Zero, down.Output);
        Assert.That(_node.Log, Does.Not.Contain("delete"));
    }
}
