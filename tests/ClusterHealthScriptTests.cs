using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// cluster-health.sh, the health gate's Kubernetes half, run for real against a kubectl that
/// answers from the state of each object: what `kubectl get KIND NAME -o jsonpath=…` prints
/// (the field, or nothing when the object lacks it) and the NotFound exit of a missing object
/// (kubectl/pkg/cmd/get/get.go). The gate's timeout is 0: each case is one pass, no clock waited.
/// </summary>
public class ClusterHealthScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Node()
    {
        _node = new StubbedNode();
        // One object per file, named KIND-NAME, holding what the script's jsonpath selects.
        _node.Stub("kubectl", """
            set -- $(printf '%s\n' "$@" | grep -v -- '^--request-timeout' | grep -v '^-n$' | grep -v '^kube-system$')
            [ "$1" = get ] || { echo "kubectl stand-in: unexpected $*" >&2; exit 2; }
            file="$STATE/$2-$3"
            if [ ! -f "$file" ]; then echo "Error from server (NotFound): $2 \"$3\" not found" >&2; exit 1; fi
            cat "$file"
            """);
        foreach (var node in new[] { "node1", "node2", "node3" })
        {
            _node.WriteState($"node-{node}", "True");
        }
        _node.WriteState("lease-kube-scheduler", "node1_8d3a");
        _node.WriteState("lease-kube-controller-manager", "node2_51c0");
        _node.WriteState("deployment-coredns", "2");
        _node.WriteState("deployment-dns-autoscaler", "1");
        _node.WriteState("daemonset-node-local-dns", "3 3");
    }

    [TearDown]
    public void Cleanup() => _node?.Dispose();

    private (int Exit, string Output) Gate(bool dnsAutoscaler = true, bool nodeLocalDns = true, string[]? lost = null) =>
        _node.Run(Render.ClusterHealth(["node1", "node2", "node3"], timeoutSeconds: 0, dnsAutoscaler, nodeLocalDns, lost ?? []), scratch: []);

    /// <summary>
    /// lostNodes: a dead node is neither waited for nor counted among NodeLocal DNSCache's ready
    /// pods (its DaemonSet still wants one there: the pods tolerate every taint), and the gate
    /// says which it passed by. Any other node not Ready still fails it.
    /// </summary>
    [Test]
    public void ALostNodeIsNotWaitedForAndIsNamed()
    {
        _node.WriteState("node-node1", "Unknown");
        _node.WriteState("daemonset-node-local-dns", "3 2");

        var (exit, output) = Gate(lost: ["node1"]);

        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("cluster is healthy: nodes Ready: node2 node3").And.Contain("not checked (lostNodes): node1"));

        _node.WriteState("node-node2", "False");
        var (stillExit, stillOutput) = Gate(lost: ["node1"]);
        Assert.That(stillExit, Is.Not.Zero, stillOutput);
        Assert.That(stillOutput, Does.Contain("nodes not Ready: node2"));
    }

    /// <summary>
    /// A listed node whose kubelet posts again (a replacement joining under its name: Ready False,
    /// or no condition yet) is waited for, and once Ready counts as any other.
    /// </summary>
    [TestCase("False")]
    [TestCase("")]
    public void ALostNodeWhoseKubeletPostsAgainIsWaitedFor(string condition)
    {
        _node.WriteState("node-node1", condition);
        var (waiting, waitingOutput) = Gate(lost: ["node1"]);
        Assert.That(waiting, Is.Not.Zero, waitingOutput);
        Assert.That(waitingOutput, Does.Contain("nodes not Ready: node1"));

        _node.WriteState("node-node1", "True");
        var (exit, output) = Gate(lost: ["node1"]);
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3").And.Not.Contain("not checked"));
    }

    [Test]
    public void AHealthyClusterPassesAndNamesItsLeaders()
    {
        var (exit, output) = Gate();

        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("scheduler-leader=node1\n").And.Contain("controller-manager-leader=node2\n"));
        // What the stack exports as schedulerLeader and controllerManagerLeader is read from this
        // very output (the lease holders' identities, node_uuid, cut at the node).
        Assert.That(Components.HealthGate.Field(output, "scheduler-leader"), Is.EqualTo("node1"));
        Assert.That(Components.HealthGate.Field(output, "controller-manager-leader"), Is.EqualTo("node2"));
    }

    [Test]
    public void NodeLocalDnsNotReadyOnEveryNodeFailsTheGate()
    {
        _node.WriteState("daemonset-node-local-dns", "3 2");

        var (exit, output) = Gate();

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("NodeLocal DNSCache is ready on 2 of 3 node(s)"));
        Assert.That(Gate(nodeLocalDns: false).Exit, Is.EqualTo(0), "not judged when it is not installed");
    }

    [Test]
    public void NodeLocalDnsScheduledNowhereFailsTheGate()
    {
        File.Delete(_node.StatePath("daemonset-node-local-dns"));

        var (exit, output) = Gate();

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("NodeLocal DNSCache is ready on 0 of 0 node(s)"));
    }

    [Test]
    public void WithTheAutoscalerCoreDnsNeedsItsMinimumAndTheAutoscalerMustRun()
    {
        _node.WriteState("deployment-coredns", "1");
        File.Delete(_node.StatePath("deployment-dns-autoscaler"));

        var (exit, output) = Gate();

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("CoreDNS has 1 available replica(s), wants 2").And.Contain("the DNS autoscaler is not available"));
        Assert.That(Gate(dnsAutoscaler: false).Exit, Is.EqualTo(0), "without it one CoreDNS replica is enough");
    }

    [Test]
    public void ANodeNotReadyOrALeaseWithoutHolderFailsTheGate()
    {
        _node.WriteState("node-node3", "False");
        _node.WriteState("lease-kube-scheduler", "");

        var (exit, output) = Gate();

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("nodes not Ready: node3").And.Contain("no kube-scheduler holds its lease"));
    }
}
