using System.Collections.Immutable;
using DoK8sHa.Config;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>
/// Issue 6: scale, upgrade and replace. The program is evaluated with the config before and after
/// the change, and the tests say which resources' inputs change and which stay identical.
/// </summary>
public class DayTwoTests
{
    private static async Task<(ClusterMocks Before, ClusterMocks After)> BeforeAndAfter(string stack, Action<Dictionary<string, string>> change)
    {
        var before = await StackRun.RunAsync(stack);
        var config = StackRun.StackConfig(stack);
        change(config);
        // The second update reads what the first one exported, as the engine's would.
        var after = (await StackRun.RunAsync(stack, config, new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(before) })).Mocks;
        return (before.Mocks, after);
    }

    private static IEnumerable<string> Changed(ClusterMocks before, ClusterMocks after) =>
        before.Resources.Where(b => !b.Type.StartsWith("do-k8s-ha:", StringComparison.Ordinal) && b.Name != "health-check")
            .Where(b => after.Resources.SingleOrDefault(a => a.Type == b.Type && a.Name == b.Name) is { } a && !a.Inputs.SequenceEqual(b.Inputs, InputComparer.Instance))
            .Select(b => b.Name)
            .Order();

    [Test]
    public async Task UpgradeChangesTheUpgradeStepsAndNothingOfEtcdWorkersOrTheNetwork()
    {
        var (before, after) = await BeforeAndAfter("prod", c => Fixtures.UpgradeToNextMinor(c));

        Assert.That(Changed(before, after), Is.EquivalentTo(new[]
        {
            // The upgrade steps carry out the new target (UpdateRules judged it before anything).
            "upgrade-cp1", "upgrade-cp2", "upgrade-cp3",
            "upgrade-worker1.drain", "upgrade-worker1", "upgrade-worker1.uncordon", "upgrade-worker2.drain", "upgrade-worker2", "upgrade-worker2.uncordon",
            "upgrade-worker3.drain", "upgrade-worker3", "upgrade-worker3.uncordon",
            // The control-plane steps hold the version for a cluster created from scratch; re-run, they find the node joined.
            "control-plane-cp1", "control-plane-cp2", "control-plane-cp3",
            // Each Kubernetes node's releases step fetches the new version's files at once: on a
            // joined node into its cache, for its turn in the roll (which waits for it). Node
            // setup names no version, and no droplet changes: user data names none either.
            "cp1.releases", "cp2.releases", "cp3.releases", "worker1.releases", "worker2.releases", "worker3.releases",
            // Every etcd member is snapshotted before the upgrade.
            "snapshot-before-change-etcd1", "snapshot-before-change-etcd2", "snapshot-before-change-etcd3",
        }));
        Assert.That(Input(after.Named("upgrade-worker1"), "update"), Does.Contain("TARGET='1.38.0'").And.Contains($"kubeadm 1.38.0 https://dl.k8s.io/release/v1.38.0/bin/linux/amd64/kubeadm {new string('a', 64)}"));
        Assert.That(Input(after.Named("worker1.releases"), "create"), Does.Contain("KUBERNETES_VERSION='1.38.0'"));
        Assert.That(Input(before.Named("upgrade-worker1"), "update"), Does.Contain("TARGET='1.37.1'"));
    }

    [Test]
    public async Task UpgradeRunsOneNodeAtATimeInOrder()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        var order = new[] { "cp1", "cp2", "cp3", "worker1", "worker2", "worker3" };
        for (var i = 0; i < order.Length; i++)
        {
            var script = Input(mocks.Named($"upgrade-{order[i]}"), "update");
            Assert.That(script, Does.Contain(i == 0 ? "KUBEADM_UPGRADE=apply" : "KUBEADM_UPGRADE=node"), order[i]);
            // The order is the engine's (dependsOn, RollingUpgradeEngineTests), never a wait in the script.
            Assert.That(script, Does.Not.Contain("PREDECESSORS"), order[i]);
            // A control-plane node drains itself with its own admin.conf; a worker holds no such
            // credential: the first control-plane node drains it before and uncordons it after.
            var worker = order[i].StartsWith("worker", StringComparison.Ordinal);
            Assert.That(script, Does.Contain(worker ? "KUBECONFIG_FILE=''" : "KUBECONFIG_FILE='/etc/kubernetes/admin.conf'"), order[i]);
            if (worker)
            {
                Assert.That(Input(mocks.Named($"upgrade-{order[i]}.drain"), "update"), Does.Contain("MODE=drain\n"), order[i]);
                Assert.That(Input(mocks.Named($"upgrade-{order[i]}.uncordon"), "update"), Does.Contain("MODE=uncordon\n"), order[i]);
            }
        }
        // Dedicated etcd nodes run no kubelet and have nothing to upgrade.
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("upgrade-etcd", StringComparison.Ordinal)), Is.Empty);
        // Creating the steps runs nothing and connects nowhere: the nodes were just installed with the version.
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("upgrade-", StringComparison.Ordinal)).Select(c => Input(c, "create")), Is.All.Empty);
    }

    [Test]
    public async Task ARefusedVersionStopsTheRunBeforeAnyResourceInPreviewAndUp([Values] bool preview)
    {
        var mocks = new ClusterMocks { PreviousOutputs = new Dictionary<string, object> { ["kubernetesVersion"] = "1.38.0", ["nodes"] = PreviousNodes("etcd1", "etcd2", "etcd3") } };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks, isPreview: preview));

        Assert.That(message, Does.Contain("do-k8s-ha:kubernetesVersion: 1.38.0 -> 1.37.1 goes back; kubeadm cannot downgrade a cluster. Fix: pulumi config set kubernetesVersion 1.38.0"));
        Assert.That(message, Does.Contain("nothing was created or changed").And.Not.Contain("   at "));
        // What the stack's last update exported is read from the stack itself; nothing else is registered.
        Assert.That(mocks.StackReferences, Is.EqualTo(new[] { "organization/do-k8s-ha/prod" }));
        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));
    }

    // A stack last updated by a release that exported no version: the update goes on, and says
    // what it cannot judge.
    [Test]
    public async Task AnUpdateAfterOneThatRecordedNoVersionWarnsThatNoDowngradeCanBeRefused()
    {
        var mocks = new ClusterMocks { PreviousOutputs = new Dictionary<string, object> { ["nodes"] = PreviousNodes("etcd1", "etcd2", "etcd3") } };

        var result = await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks);

        Assert.That(result.Warnings, Is.EqualTo(new[]
        {
            "do-k8s-ha:kubernetesVersion: the last update did not record the version the cluster runs, so this one cannot refuse a downgrade or a skipped minor release. Keep kubernetesVersion as it was in this update (docs/day-2.md \"Upgrading the program\").",
        }));
        Assert.That((await StackRun.SharedAsync("prod")).Warnings, Is.Empty, "a new stack has nothing to warn of");
    }

    // The config's warnings reach the user, in the program as in the parser (ConfigParserTests).
    [Test]
    public async Task TheConfigsWarningsReachTheUser()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";

        var result = await StackRun.RunAsync("dev", config);

        Assert.That(result.Warnings, Is.EqualTo(new[] { "do-k8s-ha:apiLoadBalancer is none: the exported kubeconfig points at one control-plane node and stops working when that node is down." }));
    }

    // prod's etcd nodes are etcd only; dev's hold etcd among other roles.
    [TestCase("prod", new[] { "etcd1", "etcd2", "etcd3" })]
    [TestCase("dev", new[] { "node1", "node2", "node3" })]
    public async Task TheStackExportsWhatTheNextUpdateIsJudgedBy(string stack, string[] etcd)
    {
        var result = await StackRun.SharedAsync(stack);
        var outputs = await StackRun.OutputsOf(result);
        var previous = StackHistory.FromOutputs(outputs["kubernetesVersion"], outputs["nodes"]);

        Assert.That(previous.KubernetesVersion, Is.EqualTo(new Config.KubernetesVersion(1, 37, 1)));
        Assert.That(previous.EtcdNodes, Is.EquivalentTo(etcd));
    }

    [Test]
    public async Task ThePreviousDeploymentIsReadBeforeAnyOtherResourceIsRegistered()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        var read = mocks.Named("previous-deployment");

        Assert.That(read.Type, Is.EqualTo("pulumi:pulumi:StackReference"));
        Assert.That(mocks.Resources.Where(r => r != read).Select(r => r.RegisteredAt), Is.All.GreaterThan(read.CompletedAt));
    }

    [TestCase(null, "1.35.1", "")]
    [TestCase("1.35.1", "1.35.1", "")]
    [TestCase("1.35.1", "1.35.4", "upgrading Kubernetes 1.35.1 -> 1.35.4, one node at a time")]
    [TestCase("1.35.1", "1.36.0", "upgrading Kubernetes 1.35.1 -> 1.36.0, one node at a time")]
    [TestCase("1.35.1", "1.37.0", "do-k8s-ha:kubernetesVersion: 1.35.1 -> 1.37.0 skips a minor release; kubeadm upgrades one minor at a time. Fix: pulumi config set kubernetesVersion 1.36.<patch>, pulumi up, then 1.37.0")]
    [TestCase("1.36.1", "1.35.9", "do-k8s-ha:kubernetesVersion: 1.36.1 -> 1.35.9 goes back; kubeadm cannot downgrade a cluster. Fix: pulumi config set kubernetesVersion 1.36.1")]
    [TestCase("1.35.4", "1.35.1", "goes back")]
    [TestCase("1.35.1", "2.0.0", "goes back")]
    [TestCase("1.35.1", "2.36.0", "goes back")]
    public void VersionChangesKubeadmCannotMakeAreRefused(string? previous, string target, string expected)
    {
        Assert.That(KubernetesVersionOf(target, out var version), Is.True);
        var before = previous is null ? null : KubernetesVersionOf(previous, out var v) ? v : throw new ArgumentException(previous);
        var etcd = new[] { "etcd1", "etcd2", "etcd3" };

        var (problems, notes) = UpdateRules.Judge(new PreviousDeployment(before, EtcdMembers(etcd)), version, etcd);

        var refused = expected.StartsWith("do-k8s-ha:", StringComparison.Ordinal) || expected == "goes back";
        Assert.That(problems, refused ? Has.One.Contains(expected) : Is.Empty);
        Assert.That(notes, refused || expected.Length == 0 ? Is.Empty : Is.EqualTo(new[] { expected }));
    }

    [Test]
    public async Task AddingAWorkerChangesNoOtherResource()
    {
        var (before, after) = await BeforeAndAfter("prod", c => c["do-k8s-ha:nodes"] = WithNode(c["do-k8s-ha:nodes"], "worker4", "worker"));
        // None: worker4's serving certificate is its own, and no approver lists the nodes.
        Assert.That(Changed(before, after), Is.Empty);
        Assert.That(after.OfType(RemoteCommand).Select(c => c.Name), Does.Contain("workers-worker4-join").And.Contain("upgrade-worker4"));
    }

    [Test]
    public async Task AddingAControlPlaneNodeChangesOnlyTheProxies()
    {
        var (before, after) = await BeforeAndAfter("prod", c => c["do-k8s-ha:nodes"] = WithNode(c["do-k8s-ha:nodes"], "cp4", "control-plane"));
        Assert.That(Changed(before, after), Is.EquivalentTo(new[]
        {
            // Every node's proxy, control-plane nodes' too, gets cp4 as an upstream.
            "node-setup-cp1", "node-setup-cp2", "node-setup-cp3", "node-setup-worker1", "node-setup-worker2", "node-setup-worker3",
        }));
        Assert.That(after.OfType(RemoteCommand).Select(c => c.Name), Does.Contain("control-plane-cp4"));
    }

    [Test]
    public async Task RemovingAWorkerLeavesTheRestAsTheyWere()
    {
        var (before, after) = await BeforeAndAfter("prod", c => c["do-k8s-ha:nodes"] = c["do-k8s-ha:nodes"].Replace(""",{"name":"worker3","roles":["worker"],"size":"s-8vcpu-16gb"}""", "", StringComparison.Ordinal));

        Assert.That(after.Resources.Where(r => r.Name.Contains("worker3", StringComparison.Ordinal)), Is.Empty);
        // Nothing else: no other node held anything of worker3's.
        Assert.That(Changed(before, after), Is.Empty);
        // What runs when worker3's resources go, before its droplet: drain and delete, from cp1.
        Assert.That(Input(before.Named("leave-worker3"), "delete"), Does.Contain("drain").And.Contains("delete node"));
    }

    [Test]
    public async Task SwappingAnEtcdNodeChangesEtcdAndTheApiServersOnly()
    {
        var (before, after) = await BeforeAndAfter("prod", c => c["do-k8s-ha:nodes"] = WithNode(c["do-k8s-ha:nodes"], "etcd4", "etcd")
            .Replace(""",{"name":"etcd3","roles":["etcd"],"size":"s-2vcpu-4gb"}""", "", StringComparison.Ordinal));

        Assert.That(Changed(before, after), Is.EquivalentTo(new[]
        {
            // The members that stay learn the new member list (their config; no restart).
            "etcd-etcd1", "etcd-etcd2",
            // kubeadm's config on the control-plane nodes names the members ...
            "control-plane-cp1", "control-plane-cp2", "control-plane-cp3",
            // ... and the API servers are pointed at them, one node at a time.
            "apiserver-endpoints-cp1", "apiserver-endpoints-cp2", "apiserver-endpoints-cp3",
            // The members' departure steps keep the member list they will remove from (an echo runs).
            "leave-etcd1.etcd", "leave-etcd2.etcd",
            // The members that stay are snapshotted before etcd's membership changes.
            "snapshot-before-change-etcd1", "snapshot-before-change-etcd2",
        }));
        // The mocks give etcdN the address 10.241.0.(20+N) in prod's VPC, 10.241.0.0/20.
        Assert.That(Input(after.Named("apiserver-endpoints-cp2"), "create"), Does.Contain("ETCD_ENDPOINTS='https://10.241.0.21:2379,https://10.241.0.22:2379,https://10.241.0.24:2379'"));
        Assert.That(Input(before.Named("apiserver-endpoints-cp2"), "create"), Does.Contain("https://10.241.0.23:2379"));
        // etcd3's member leaves through its departure step, run from etcd1, before its droplet goes.
        Assert.That(Input(before.Named("leave-etcd3.etcd"), "delete"), Does.Contain("etcd_member remove").And.Contains("NODE_IP='10.241.0.23'"));
    }

    [Test]
    public async Task ApiServersTakeNewEtcdEndpointsOneNodeAtATime()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        var steps = new[] { "apiserver-endpoints-cp1", "apiserver-endpoints-cp2", "apiserver-endpoints-cp3" }.Select(mocks.Named).ToList();
        for (var i = 1; i < steps.Count; i++)
        {
            Assert.That(steps[i].RegisteredAt, Is.GreaterThan(steps[i - 1].CompletedAt), $"{steps[i].Name} waits for {steps[i - 1].Name}");
        }
        Assert.That(steps[0].RegisteredAt, Is.GreaterThan(mocks.Named("control-plane-cp1").CompletedAt), "after the node's kubeadm step");
        Assert.That(mocks.Named("health-check").RegisteredAt, Is.GreaterThan(steps[^1].CompletedAt), "the health gate judges the result");
        // Creating, updating and re-running are the same script: it changes only what differs.
        Assert.That(Input(steps[0], "update"), Is.Empty);
        Assert.That(Input(steps[0], "create"), Does.Contain("ETCD_ENDPOINTS='https://"));
    }

    [TestCase(null, "etcd1 etcd2 etcd3", "")]
    [TestCase("etcd1 etcd2 etcd3", "etcd1 etcd2 etcd3", "")]
    [TestCase("etcd1 etcd2 etcd3", "etcd1 etcd2 etcd3 etcd4", "etcd members: adding etcd4")]
    [TestCase("etcd1 etcd2 etcd3", "etcd1 etcd2 etcd4", "etcd members: adding etcd4, removing etcd3")]
    [TestCase("etcd1 etcd2 etcd3", "etcd1 etcd2", "etcd members: removing etcd3")]
    [TestCase("etcd1 etcd2 etcd3", "etcd1 etcd2 etcd3 etcd4 etcd5", "do-k8s-ha:nodes: gives the role etcd to etcd4 etcd5 in one update; etcd takes one new member per update. Fix: give it to one of them, pulumi up, then to the next")]
    // A new cluster (no previous update) with an even count: only a live cluster passes through one.
    [TestCase(null, "etcd1 etcd2", "do-k8s-ha:nodes: gives a new cluster 2 etcd nodes, which tolerate as many failures as 1 do (0); an even count is only a step between odd ones on a live cluster. Fix: give the role etcd to 1 or 3 nodes")]
    [TestCase("etcd1 etcd2 etcd3 etcd4 etcd5", "etcd1 etcd2 etcd3", "do-k8s-ha:nodes: takes the role etcd from etcd4 etcd5 in one update; etcd lets one member go per update. Fix: take it from one of them, pulumi up, then from the next")]
    public void EtcdChangesOfMoreThanOneMemberInOrOutPerUpdateAreRefused(string? previous, string target, string expected)
    {
        var version = new Config.KubernetesVersion(1, 35, 1);

        var (problems, notes) = UpdateRules.Judge(new PreviousDeployment(version, previous is null ? null : EtcdMembers(previous.Split(' '))), version, target.Split(' '));

        var refused = expected.StartsWith("do-k8s-ha:", StringComparison.Ordinal);
        Assert.That(problems, refused ? Is.EqualTo(new[] { expected }) : Is.Empty);
        Assert.That(notes, refused || expected.Length == 0 ? Is.Empty : Is.EqualTo(new[] { expected }));
    }

    [Test]
    public async Task AnUpdateAddingTwoEtcdMembersIsRefusedFromThePreviousInventory()
    {
        var before = await StackRun.SharedAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:nodes"] = WithNode(WithNode(config["do-k8s-ha:nodes"], "etcd4", "etcd"), "etcd5", "etcd");
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(before) };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", config, mocks, isPreview: true));

        Assert.That(message, Does.Contain("do-k8s-ha:nodes: gives the role etcd to etcd4 etcd5 in one update"));
        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));
    }

    [Test]
    public void AStackLastUpdatedWithoutTheVersionOutputIsJudgedOnEtcdAlone()
    {
        var previous = StackHistory.FromOutputs(null, PreviousNodes("etcd1", "etcd2", "etcd3"));

        Assert.That(previous.Exists, Is.True);
        Assert.That(previous.KubernetesVersion, Is.Null);
        Assert.That(StackHistory.FromOutputs(null, null), Is.EqualTo(new PreviousDeployment(null)));
    }

    /// <summary>A previous deployment's nodes: these, each with the role etcd alone.</summary>
    private static Dictionary<string, PreviousNode> EtcdMembers(IEnumerable<string> names) =>
        names.ToDictionary(n => n, _ => new PreviousNode(NodeRoles.Etcd, null, null), StringComparer.Ordinal);

    /// <summary>The `nodes` output of a previous update: each node's roles, as the engine hands them back.</summary>
    private static ImmutableDictionary<string, object> PreviousNodes(params string[] etcd) =>
        etcd.Concat(["cp1", "worker1"]).ToImmutableDictionary(n => n, n => (object)ImmutableDictionary<string, object>.Empty
            .Add("roles", ImmutableArray.Create<object>(n.StartsWith("etcd", StringComparison.Ordinal) ? "etcd" : n.StartsWith("cp", StringComparison.Ordinal) ? "control-plane" : "worker")));

    private static string WithNode(string nodesJson, string name, string role) =>
        nodesJson.TrimEnd(']') + $$""",{"name":"{{name}}","roles":["{{role}}"]}]""";

    private static bool KubernetesVersionOf(string text, out Config.KubernetesVersion version) => Config.KubernetesVersion.TryParse(text, out version);

    private sealed class InputComparer : IEqualityComparer<KeyValuePair<string, object>>
    {
        public static readonly InputComparer Instance = new();

        public bool Equals(KeyValuePair<string, object> x, KeyValuePair<string, object> y) =>
            x.Key == y.Key && Render(x.Value) == Render(y.Value);

        public int GetHashCode(KeyValuePair<string, object> obj) => obj.Key.GetHashCode(StringComparison.Ordinal);

        private static string Render(object value) => value is System.Collections.IEnumerable e and not string
            ? "[" + string.Join(",", e.Cast<object>().Select(Render)) + "]"
            : value?.ToString() ?? "";
    }
}
