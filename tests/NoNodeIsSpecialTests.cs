using System.Collections;
using DoK8sHa.Tests.Support;
using Pulumi;
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
    /// node1 dead and listed: the gate does not wait for its Node nor for its etcd member (the
    /// quorum still counts it), and says it passed it by.
    /// </summary>
    [Test]
    public async Task TheGateDoesNotWaitForALostNode()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = """["node1"]""";
        var gate = Input((await StackRun.RunAsync("dev", config)).Mocks.Named("health-check"), "create");

        Assert.That(gate, Does.Contain("EXPECTED_NODES='node1 node2 node3'").And.Contain("LOST_NODES='node1'"));
        Assert.That(gate, Does.Contain($"LOST_ENDPOINTS='https://{ClusterMocks.PrivateIp("node1")}:2379'"));
    }

    /// <summary>
    /// About 100 workers: each has steps that run on a control-plane node through the balancer's
    /// relay (its stale-Node check, its token, the token's deletion), and all may land on one node.
    /// Under the engine model (every remote step, its dependsOn among them; the implicit ones
    /// through outputs left out, which only lets more run at once) with the slots the README
    /// advises for large clusters (4 × nodes), the most that dial through the relay at once stay
    /// within the unauthenticated connections sshd takes before it drops any (MaxStartups in the
    /// user data's drop-in); sshd's default, 10, would drop some.
    /// </summary>
    [Test]
    public async Task TheStepsTheEngineRunsAtOnceThroughTheRelayFitSshdsStartups()
    {
        const int Workers = 100;
        var inventory = "[" + string.Join(",", Enumerable.Range(1, 3).Select(i => $$"""{"name":"cp{{i}}","roles":["control-plane","etcd"]}""")
            .Concat(Enumerable.Range(1, Workers).Select(i => $$"""{"name":"w{{i}}","roles":["worker"]}"""))) + "]";
        var config = StackRun.WithNodes(inventory);
        config["do-k8s-ha:podCidr"] = "10.232.0.0/16";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        var commands = mocks.OfType(RemoteCommand).ToList();
        var names = commands.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var relayed = commands.Where(c => ConnectionHost(c) == ClusterMocks.LoadBalancerIp && !c.Name.StartsWith("leave-", StringComparison.Ordinal)).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var steps = new List<EngineModel.Step>();
        foreach (var command in commands)
        {
            var dependsOn = await mocks.OptionsOf(RemoteCommand, command.Name).DependsOn.ToOutput().ValueAsync();
            steps.Add(new EngineModel.Step(command.Name, [.. dependsOn.Select(r => r.GetResourceName()).Where(names.Contains)], [], Seconds: 1));
        }

        var slots = 4 * (Workers + 3);
        var outcome = EngineModel.Run(steps, slots, Comparer<EngineModel.Step>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name)), s => relayed.Contains(s.Name));

        Assert.That(outcome.Completed, Is.True);
        Assert.That(relayed, Has.Count.GreaterThanOrEqualTo(3 * Workers), "a worker's three steps go through the relay");
        Assert.That(outcome.PeakCounted, Is.GreaterThan(10), "more than sshd's default MaxStartups dial at once");
        Assert.That(outcome.PeakCounted, Is.LessThanOrEqualTo(Scripts.Render.SshMaxStartups));
    }

    /// <summary>
    /// A dead node listed in lostNodes on a stack an earlier release of the program made, which
    /// had no downloads step: the step this update adds to it runs nothing (it would dial a dead
    /// droplet); the live nodes' run.
    /// </summary>
    [Test]
    public async Task ALostNodeGetsNoNewDownloadsStep()
    {
        var first = await StackRun.RunAsync("dev", StackRun.StackConfig("dev"), new ClusterMocks());
        var outputs = new Dictionary<string, object>(await StackRun.OutputsOf(first));
        var nodes = (System.Collections.Immutable.ImmutableDictionary<string, System.Collections.Immutable.ImmutableDictionary<string, object>>)outputs["nodes"];
        outputs["nodes"] = System.Collections.Immutable.ImmutableDictionary.ToImmutableDictionary(nodes, n => n.Key, n => n.Value.Remove("releases"));
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = """["node1"]""";
        var mocks = new ClusterMocks { PreviousOutputs = outputs, PreviousInputs = first.Mocks.StateInputs };
        await StackRun.RunAsync("dev", config, mocks);

        Assert.That(mocks.Named("node1.releases").Inputs.ContainsKey("create"), Is.False, "no download on the dead droplet");
        Assert.That(Input(mocks.Named("node2.releases"), "create"), Does.Contain("KUBERNETES_VERSION='1.37.1'"));
    }

    /// <summary>
    /// node1 dead and listed while the release moves on: every step of its own that names the
    /// release keeps the one its steps last had (recorded in the nodes output), so none runs again
    /// on the dead droplet, and its before-change snapshot runs nothing; the others take the new one.
    /// </summary>
    [Test]
    public async Task ALostNodeKeepsTheReleaseItsStepsLastHad()
    {
        // The first update pinned a checksum of its own (a mirror's build, say): rendered again for
        // the kept release from the table, the script would differ and run on the dead droplet
        // (seen failing in the lost-node replay: node1.releases dialled the dead node1).
        var firstConfig = StackRun.StackConfig("dev");
        firstConfig["do-k8s-ha:releaseChecksums"] = $$"""{"kubelet":"{{new string('d', 64)}}"}""";
        var first = await StackRun.RunAsync("dev", firstConfig, new ClusterMocks());
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = """["node1"]""";
        Fixtures.UpgradeToNextMinor(config);
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first), PreviousInputs = first.Mocks.StateInputs };
        var result = await StackRun.RunAsync("dev", config, mocks);

        // Its downloads keep the release too: unchanged, they dial nothing; a droplet made anew in its place runs them.
        Assert.That(Input(mocks.Named("node1.releases"), "create"), Does.Contain("KUBERNETES_VERSION='1.37.1'"));
        Assert.That(Input(mocks.Named("node1.releases"), "create"), Is.EqualTo(Input(first.Mocks.Named("node1.releases"), "create")), "the step it had");
        Assert.That(Input(mocks.Named("node2.releases"), "create"), Does.Contain("KUBERNETES_VERSION='1.38.0'"));
        Assert.That(Input(mocks.Named("control-plane-node1"), "create"), Does.Contain("kubernetesVersion: v1.37.1"));
        Assert.That(Input(mocks.Named("control-plane-node2"), "create"), Does.Contain("kubernetesVersion: v1.38.0"));
        Assert.That(mocks.Named("snapshot-before-change-node1").Inputs.ContainsKey("create"), Is.False, "a dead droplet has no member to snapshot");
        Assert.That(Input(mocks.Named("snapshot-before-change-node2"), "create"), Does.Contain("etcd-before-change"));
        var nodes = await result.Output<System.Collections.Immutable.ImmutableDictionary<string, System.Collections.Immutable.ImmutableDictionary<string, object>>>("nodes").ValueAsync();
        Assert.That(nodes["node1"]["kubernetesVersion"], Is.EqualTo("1.37.1"), "kept for the next update");
        Assert.That(nodes["node2"]["kubernetesVersion"], Is.EqualTo("1.38.0"));
    }
}
