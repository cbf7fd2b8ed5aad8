using System.Collections;
using DoK8sHa.Components;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>The order steps run in, as the dependencies the program registers make the engine run them: a cluster coming up, nodes joining side by side, and nodes leaving before their successors join. The whole program under Pulumi's mocks, with the dev and prod stack files.</summary>
public class StepOrderTests
{
    [Test]
    public async Task StepsRunInTheOrderAClusterComesUp()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        MockedResource R(string name) => mocks.Named(name);

        foreach (var member in new[] { "etcd1", "etcd2", "etcd3" })
        {
            Assert.That(R($"etcd-{member}").RegisteredAt, Is.GreaterThan(R($"{member}.bootstrapped").CompletedAt));
            Assert.That(R("control-plane-cp1").RegisteredAt, Is.GreaterThan(R($"etcd-{member}.service").CompletedAt), "kubeadm waits for every etcd member");
        }
        // The services one member after another: a change restarts one member at a time (etcd-service.sh).
        Assert.That(R("etcd-etcd2.service").RegisteredAt, Is.GreaterThan(R("etcd-etcd1.service").CompletedAt));
        Assert.That(R("etcd-etcd3.service").RegisteredAt, Is.GreaterThan(R("etcd-etcd2.service").CompletedAt));
        Assert.That(R("etcd-etcd1.service").RegisteredAt, Is.GreaterThan(R("etcd-etcd1").CompletedAt), "a member starts once it is configured");
        foreach (var joining in new[] { "control-plane-cp2", "control-plane-cp3", "workers-worker1-join", "workers-worker2-join" })
        {
            Assert.That(R(joining).RegisteredAt, Is.GreaterThan(R("control-plane-cp1").CompletedAt), $"{joining} waits for kubeadm init");
        }
        Assert.That(R("workers-worker1-join").RegisteredAt, Is.GreaterThan(R("node-setup-worker1").CompletedAt));
        // A control-plane node, the first included, inits or joins through its own local proxy.
        Assert.That(R("control-plane-cp1").RegisteredAt, Is.GreaterThan(R("node-setup-cp1").CompletedAt));
        Assert.That(R("control-plane-cp2").RegisteredAt, Is.GreaterThan(R("node-setup-cp2").CompletedAt));
    }

    // The downloads start with the droplet, beside cloud-init (the bootstrap wait held here): not
    // after it, and setup, whose nginx is cloud-init's, after both. An upgrade step after its
    // node's downloads, which a version change runs again.
    [Test]
    public async Task EachNodesDownloadsRunBesideCloudInitAndEverythingThatRunsTheReleaseWaitsForThem()
    {
        var mocks = new ClusterMocks { Hold = ((type, name) => name.EndsWith(".bootstrapped", StringComparison.Ordinal), TimeSpan.FromSeconds(1)) };
        await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks);
        MockedResource R(string name) => mocks.Named(name);

        foreach (var node in new[] { "cp1", "cp2", "worker1" })
        {
            Assert.That(R($"{node}.releases").RegisteredAt, Is.LessThan(R($"{node}.bootstrapped").CompletedAt), $"{node}'s downloads do not wait for cloud-init");
            Assert.That(R($"node-setup-{node}").RegisteredAt, Is.GreaterThan(R($"{node}.releases").CompletedAt).And.GreaterThan(R($"{node}.bootstrapped").CompletedAt), node);
            Assert.That(R($"upgrade-{node}").RegisteredAt, Is.GreaterThan(R($"{node}.releases").CompletedAt), node);
        }
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("etcd", StringComparison.Ordinal) && c.Name.EndsWith(".releases", StringComparison.Ordinal)), Is.Empty, "an etcd-only node runs no Kubernetes");

    }

    // A pure worker's bootstrap wait (and so every step on it after its downloads' start) comes
    // after the control plane's init: cloud-init has long ended then, where earlier the wait would
    // hold an engine slot (--parallel) for as long as cloud-init runs, the slots a large cluster's
    // control plane waits for. A node of the control plane or of etcd waits at once.
    [Test]
    public async Task APureWorkersBootstrapWaitComesAfterTheControlPlanesInit()
    {
        var mocks = new ClusterMocks { Hold = ((type, name) => name == "control-plane-cp1", TimeSpan.FromSeconds(1)) };
        await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks);
        MockedResource R(string name) => mocks.Named(name);

        foreach (var worker in new[] { "worker1", "worker2", "worker3" })
        {
            Assert.That(R($"{worker}.bootstrapped").RegisteredAt, Is.GreaterThan(R("control-plane-cp1").CompletedAt), worker);
            Assert.That(R($"{worker}.releases").RegisteredAt, Is.LessThan(R("control-plane-cp1").CompletedAt), $"{worker}'s downloads start with its droplet");
        }
        foreach (var node in new[] { "cp1", "cp2", "etcd1" })
        {
            Assert.That(R($"{node}.bootstrapped").RegisteredAt, Is.LessThan(R("control-plane-cp1").CompletedAt), node);
        }
    }

    // No kubelet starts (and so no pod runs) before its node keeps pods off the metadata service.
    // The guards are held: what registers after one completed waited for it.
    [Test]
    public async Task NoKubeletStartsBeforeItsNodeKeepsPodsOffTheMetadataService()
    {
        var mocks = new ClusterMocks { Hold = ((type, name) => name.StartsWith("metadata-guard-", StringComparison.Ordinal), TimeSpan.FromSeconds(1)) };
        await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks);
        MockedResource R(string name) => mocks.Named(name);

        foreach (var (step, node) in new[] { ("control-plane-cp1", "cp1"), ("control-plane-cp2", "cp2"), ("control-plane-cp3", "cp3"), ("workers-worker1-join", "worker1") })
        {
            Assert.That(R(step).RegisteredAt, Is.GreaterThan(R($"metadata-guard-{node}").CompletedAt), $"{step} after its node's metadata guard");
        }
        // Beside the setup, not before it: the setup is on the longest path.
        Assert.That(R("node-setup-cp1").RegisteredAt, Is.LessThan(R("metadata-guard-cp1").CompletedAt), "cp1's setup does not wait for its guard");
    }

    [Test]
    public async Task TenWorkersJoinWithoutWaitingForEachOther()
    {
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name.EndsWith("-join", StringComparison.Ordinal), 10) };
        var nodes = "[{\"name\":\"cp1\",\"roles\":[\"control-plane\",\"etcd\"]}," + StackRun.Workers(10)[1..];

        await StackRun.RunAsync("dev", StackRun.WithNodes(nodes), mocks);

        Assert.That(mocks.BarrierTimedOut, Is.False, "a worker join waited for another worker's");
        Assert.That(mocks.OfType(RemoteCommand).Count(c => c.Name.EndsWith("-join", StringComparison.Ordinal)), Is.EqualTo(10));
    }

    [Test]
    public async Task EtcdMembersAreConfiguredTogether()
    {
        // The members' release and configuration (a download each), not their credential or
        // service steps (seconds each, one after another).
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name.StartsWith("etcd-", StringComparison.Ordinal) && !name.Contains('.', StringComparison.Ordinal), 3) };
        await StackRun.RunAsync("dev", mocks);
        Assert.That(mocks.BarrierTimedOut, Is.False, "an etcd member waited for another");
    }

    [Test]
    public async Task ControlPlaneJoinsRunTogetherAfterInit()
    {
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name is "control-plane-cp2" or "control-plane-cp3", 2) };
        await StackRun.RunAsync("prod", mocks);
        Assert.That(mocks.BarrierTimedOut, Is.False, "a control-plane join waited for another");
    }

    [Test]
    public async Task AddingANodeChangesNoOtherNodesJoinStep()
    {
        var before = (await StackRun.SharedAsync("dev")).Mocks;
        var nodes = """
            [{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},
             {"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["worker"]}]
            """;
        var after = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        Assert.That(after.OfType(RemoteCommand).Select(c => c.Name), Does.Contain("workers-node4-join"));
        foreach (var unchanged in new[] { "workers-node3-join", "node-setup-node3", "control-plane-node1", "etcd-node3", "node1" })
        {
            Assert.That(after.Named(unchanged).Inputs, Is.EquivalentTo(before.Named(unchanged).Inputs), unchanged);
        }
    }

    [Test]
    public async Task AStaleNodeIsRemovedThroughTheRelayBeforeAWorkerJoins()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var stale = mocks.Named("workers-node3.stale-node");

        // On any ready control-plane node (the balancer's relay, once the API answers through
        // it: node1 may be dead), about node3's droplet, before node3's join.
        Assert.That((ConnectionHost(stale), ConnectionPort(stale)), Is.EqualTo((ClusterMocks.LoadBalancerIp, ApiLoadBalancer.SshRelayPort)));
        Assert.That(stale.RegisteredAt, Is.GreaterThan(mocks.Named("addons.api-ready").CompletedAt));
        Assert.That(Input(stale, "create"), Does.Contain("NODE_NAME='node3'").And.Contain($"DROPLET_ID='{ClusterMocks.DropletIdOf("node3")}'"));
        Assert.That(((IEnumerable)stale.Inputs["triggers"]).Cast<object>(), Does.Contain(ClusterMocks.DropletIdOf("node3")));
        Assert.That(mocks.Named("workers-node3-join").RegisteredAt, Is.GreaterThan(stale.CompletedAt));
        Assert.That(Input(mocks.Named("workers-node3-join"), "create"), Does.Contain($"value: do-k8s-ha.io/droplet={ClusterMocks.DropletIdOf("node3")}").And.Not.Contain("client-key-data"));
    }

    [Test]
    public async Task EveryJoinGetsItsOwnShortLivedTokenFromALiveControlPlaneNodeAndItGoesAfterTheJoin()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;

        foreach (var (joining, join, mintedOn) in new[] { ("node3", "workers-node3-join", "relay"), ("node2", "control-plane-node2", "relay"), ("node1", "control-plane-node1", "node2") })
        {
            // The first node's token is minted on node2 before any cluster exists: join-token.sh
            // prints nothing there, and node1, which creates the cluster, is told it has none.
            var created = joining == "node1";
            var prefix = join.StartsWith("workers", StringComparison.Ordinal) ? $"workers-{joining}" : join;
            var mint = mocks.Named($"{prefix}.token");
            var used = mocks.Named($"{prefix}.token-used");
            // Through the balancer's relay, on any ready control-plane node; the first node's on its peer.
            Assert.That(ConnectionHost(mint), Is.EqualTo(mintedOn == "relay" ? ClusterMocks.LoadBalancerIp : ClusterMocks.PublicIp(mintedOn)), $"{joining}'s token is minted on {mintedOn}");
            Assert.That(ConnectionHost(used), Is.EqualTo(ConnectionHost(mint)), $"{joining}'s token is deleted where it was minted");
            Assert.That(Input(mint, "create"), Does.Contain("TTL='1h0m0s'").And.Contain($"NODE_NAME='{joining}'"));
            Assert.That(mint.Inputs["logging"], Is.EqualTo("none"), "the token is not shown in pulumi's output");
            Assert.That(mocks.Named(join).RegisteredAt, Is.GreaterThan(mint.CompletedAt));
            Assert.That(Input(mocks.Named(join), "create"), created ? Does.Contain("JOIN_TOKEN_GIVEN=false") : Does.Contain(ClusterMocks.Token(mint.Name)), $"{join} joins with its own token");
            Assert.That(used.RegisteredAt, Is.GreaterThan(mocks.Named(join).CompletedAt));
            Assert.That(Input(used, "create"), Does.Contain($"TOKEN_ID='{(created ? "" : ClusterMocks.Token(mint.Name)[..6])}'"));
        }
    }

    [Test]
    public async Task WithoutALoadBalancerAWorkersStaleNodeAndTokenRunOnTheFirstControlPlaneNode()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        foreach (var step in new[] { "workers-node3.stale-node", "workers-node3.token", "workers-node3.token-used" })
        {
            Assert.That((ConnectionHost(mocks.Named(step)), ConnectionPort(mocks.Named(step))), Is.EqualTo((ClusterMocks.PublicIp("node1"), 22)), step);
        }
    }

    [TestCase("leave-node1", "node2", "node-leave-node1.sh", "NODE_NAME='node1'", "control-plane-node1")]
    [TestCase("leave-node2", "node1", "node-leave-node2.sh", "NODE_NAME='node2'", "control-plane-node2")]
    [TestCase("leave-node3", "node1", "node-leave-node3.sh", "NODE_NAME='node3'", "workers-node3-join")]
    [TestCase("leave-node1.etcd", "node2", "etcd-member-remove-node1.sh", "NODE_IP='10.240.0.2'", "etcd-node1")]
    [TestCase("leave-node2.etcd", "node1", "etcd-member-remove-node2.sh", "NODE_IP='10.240.0.3'", "etcd-node2")]
    [TestCase("leave-node3.etcd", "node1", "etcd-member-remove-node3.sh", "NODE_IP='10.240.0.4'", "etcd-node3")]
    public async Task WithoutALoadBalancerANodeIsTakenOutOfTheClusterFromAnotherNode(string step, string runsOn, string script, string about, string joins)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;
        var departure = mocks.Named(step);

        Assert.That(Input(departure, "delete"), Does.Contain(script).And.Contains(about));
        // The mocks give nodeN the public address 203.0.113.(N+1).
        Assert.That(ConnectionHost(departure), Is.EqualTo($"203.0.113.{int.Parse(runsOn[^1..], System.Globalization.CultureInfo.InvariantCulture) + 1}"));
        Assert.That(ConnectionPort(departure), Is.EqualTo(22));
        AssertLeavesBeforeItsSuccessorJoins(mocks, departure, step, joins);
    }

    [TestCase("leave-node1", "node-leave-node1.sh", "control-plane-node1")]
    [TestCase("leave-node3", "node-leave-node3.sh", "workers-node3-join")]
    [TestCase("leave-node1.etcd", "etcd-member-remove-node1.sh", "etcd-node1")]
    [TestCase("leave-node3.etcd", "etcd-member-remove-node3.sh", "etcd-node3")]
    public async Task ANodeLeavesThroughWhicheverControlPlaneNodeTheLoadBalancerFindsAlive(string step, string script, string joins)
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var departure = mocks.Named(step);

        Assert.That(Input(departure, "delete"), Does.Contain(script));
        // Not a fixed janitor that may be the dead one: the balancer's SSH relay reaches a
        // control-plane node whose API server is ready, and its address outlives any node.
        Assert.That((ConnectionHost(departure), ConnectionPort(departure)), Is.EqualTo((ClusterMocks.LoadBalancerIp, ApiLoadBalancer.SshRelayPort)));
        AssertLeavesBeforeItsSuccessorJoins(mocks, departure, step, joins);
    }

    [Test]
    public async Task EtcdMembersLeaveThroughAnEtcdNodeWhenControlPlaneNodesHoldNoEtcdCredentials()
    {
        // prod: etcd on its own nodes. The relay reaches control-plane nodes, which have neither
        // etcdctl nor an etcd client certificate: etcd departures keep a janitor among the members.
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        var etcd = mocks.Named("leave-etcd1.etcd");
        Assert.That(ConnectionHost(etcd), Is.EqualTo(ClusterMocks.PublicIp("etcd2")));
        Assert.That(ConnectionHost(mocks.Named("leave-worker3")), Is.EqualTo(ClusterMocks.LoadBalancerIp));
    }

    [Test]
    public async Task EtcdMembersLeaveThroughAnEtcdNodeWhenOneControlPlaneNodeIsNoMember()
    {
        // The relay may land on b, which has no etcd credentials: every control-plane node must be a member.
        var nodes = """[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"b","roles":["control-plane","worker"]},{"name":"c","roles":["etcd","worker"]},{"name":"d","roles":["etcd"]}]""";
        var mocks = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        Assert.That((ConnectionHost(mocks.Named("leave-a.etcd")), ConnectionPort(mocks.Named("leave-a.etcd"))), Is.EqualTo((ClusterMocks.PublicIp("c"), 22)));
        Assert.That(ConnectionHost(mocks.Named("leave-c.etcd")), Is.EqualTo(ClusterMocks.PublicIp("a")));
        Assert.That(ConnectionHost(mocks.Named("leave-b")), Is.EqualTo(ClusterMocks.LoadBalancerIp));
    }

    [Test]
    public async Task TheOnlyNodeOfItsKindLeavesFromItself()
    {
        // No other node to run its departure: it takes itself out while it can.
        var config = StackRun.WithNodes("""[{"name":"a","roles":["control-plane","etcd","worker"]}]""");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        Assert.That(ConnectionHost(mocks.Named("leave-a")), Is.EqualTo(ClusterMocks.PublicIp("a")));
        Assert.That(ConnectionHost(mocks.Named("leave-a.etcd")), Is.EqualTo(ClusterMocks.PublicIp("a")));
    }

    private static void AssertLeavesBeforeItsSuccessorJoins(ClusterMocks mocks, MockedResource departure, string step, string joins)
    {
        // It follows the leaving node's droplet: replacing that droplet runs the removal first.
        var leaving = step["leave-".Length..].Split('.')[0];
        Assert.That(((IEnumerable)departure.Inputs["triggers"]).Cast<object>(), Is.EqualTo(new[] { ClusterMocks.DropletIdOf(leaving) }));
        // Whatever order Pulumi replaces things in, the previous machine leaves before the new one joins.
        Assert.That(mocks.Named(joins).RegisteredAt, Is.GreaterThan(departure.CompletedAt), $"{joins} waits for {step}");
        // Nothing about leaving runs on the leaving node itself: it may be dead.
        Assert.That(mocks.OfType(RemoteCommand).Where(c => !c.Name.StartsWith("leave-", StringComparison.Ordinal) && c.Inputs.ContainsKey("delete")).Select(c => c.Name), Is.Empty);
    }
}
