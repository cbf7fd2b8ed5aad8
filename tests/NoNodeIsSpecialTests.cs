using System.Collections;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>
/// No node is special for any change (issue 29): with a balancer, a step that runs for one node
/// on another reaches that other through the balancer's SSH relay, which lands on whichever
/// control-plane node is live; and lostNodes lets a change go on past a dead droplet. The whole
/// program under Pulumi's mocks.
/// </summary>
public class NoNodeIsSpecialTests
{
    /// <summary>
    /// Every remote step runs on its own node (the one whose droplet it follows) or through the
    /// relay. The exceptions are the ones that cannot: the first node's token, minted on its peer
    /// before any cluster (so before the balancer admits any node), and in prod the etcd
    /// departures, as control-plane nodes there hold no etcd credential.
    /// </summary>
    [TestCase("dev", new[] { "control-plane-node1.token", "control-plane-node1.token-used" })]
    [TestCase("prod", new[] { "control-plane-cp1.token", "control-plane-cp1.token-used", "leave-etcd1.etcd", "leave-etcd2.etcd", "leave-etcd3.etcd" })]
    public async Task WithABalancerNothingRunsOnAFixedOtherNode(string stack, string[] exceptions)
    {
        var mocks = (await StackRun.SharedAsync(stack)).Mocks;
        var nodeOfDroplet = mocks.OfType(Droplet).ToDictionary(d => ClusterMocks.DropletIdOf(d.Name), d => d.Name);

        var elsewhere = new List<string>();
        foreach (var step in mocks.OfType(RemoteCommand))
        {
            var own = ((IEnumerable)step.Inputs["triggers"]).Cast<object>().Select(t => t.ToString()!).First(nodeOfDroplet.ContainsKey);
            var host = ConnectionHost(step);
            if (host != ClusterMocks.PublicIp(nodeOfDroplet[own]) && host != ClusterMocks.LoadBalancerIp)
            {
                elsewhere.Add(step.Name);
            }
        }

        Assert.That(elsewhere, Is.EquivalentTo(exceptions));
        Assert.That(ConnectionHost(mocks.Named("health-check")), Is.EqualTo(ClusterMocks.LoadBalancerIp), "the gate too");
    }

    /// <summary>
    /// node1 dead and listed: its upgrade step keeps its place in the chain and runs nothing, and
    /// node2, the first live control-plane node, runs `kubeadm upgrade apply`.
    /// </summary>
    [TestCase("[]", "node1")]
    [TestCase("""["node1"]""", "node2")]
    public async Task AnUpgradePassesALostNodeByAndTheFirstLiveControlPlaneNodeUpgradesTheCluster(string lost, string applies)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = lost;
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        foreach (var node in new[] { "node1", "node2", "node3" })
        {
            var step = mocks.Named($"upgrade-{node}");
            if (lost.Contains(node, StringComparison.Ordinal))
            {
                Assert.That(new[] { "create", "update", "delete" }.Where(step.Inputs.ContainsKey), Is.Empty, node);
                Assert.That(step.Inputs["stdin"], Is.EqualTo(""), node);
                continue;
            }
            Assert.That(Input(step, "update"), Does.Contain(node == applies ? "KUBEADM_UPGRADE=apply" : "KUBEADM_UPGRADE=node"), node);
        }
        // The chain still runs node1's place before node2's.
        Assert.That(mocks.Named("upgrade-node2").RegisteredAt, Is.GreaterThan(mocks.Named("upgrade-node1").CompletedAt));
    }

    /// <summary>
    /// node1 dead and listed: the gate does not wait for its Node nor ask its etcd member, and
    /// says it passed it by.
    /// </summary>
    [Test]
    public async Task TheGateDoesNotWaitForALostNode()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = """["node1"]""";
        var gate = Input((await StackRun.RunAsync("dev", config)).Mocks.Named("health-check"), "create");

        Assert.That(gate, Does.Contain("EXPECTED_NODES='node2 node3'").And.Contain("LOST_NODES='node1'"));
        Assert.That(gate, Does.Not.Contain($"https://{ClusterMocks.PrivateIp("node1")}:2379").And.Contain($"https://{ClusterMocks.PrivateIp("node2")}:2379"));
    }
}
