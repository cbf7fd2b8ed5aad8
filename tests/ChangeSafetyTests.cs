using System.Collections.Immutable;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// Issue 27: no ordinary edit of the stack config takes more than one etcd or control-plane node
/// down in one update. Each update reads what the last one exported and the state it left (the
/// mocks give an ignored input its old value, as the engine does), and the tests count what
/// each update replaces or resizes.
/// </summary>
public class ChangeSafetyTests
{
    private const string Droplet = "digitalocean:index/droplet:Droplet";

    private static readonly string[] KeyNodes = ["cp1", "cp2", "cp3", "etcd1", "etcd2", "etcd3"];

    /// <summary>One update after another, each from the outputs and state the one before left.</summary>
    private static async Task<StackResult> Next(StackResult before, Dictionary<string, string> config, bool preview = false) =>
        await StackRun.RunAsync("prod", config, new ClusterMocks
        {
            PreviousOutputs = await StackRun.OutputsOf(before),
            PreviousInputs = before.Mocks.StateInputs,
        }, isPreview: preview);

    private static string DropletInput(StackResult run, string node, string input) => (string)run.Mocks.Named(node).Inputs[input];

    // The default image is every node's; the default size is the control-plane nodes' (prod gives
    // etcd and workers their own). Each would replace, or power off, every such droplet at once.
    [TestCase("image", "ubuntu-22-04-x64", 6, 3)]
    [TestCase("size", "s-8vcpu-16gb", 3, 0)]
    public async Task ANewImageOrSizeRollsOneEtcdOrControlPlaneNodePerUpdate(string key, string value, int keyNodes, int workers)
    {
        var run = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config[$"do-k8s-ha:{key}"] = value;

        var updates = 0;
        var changedKeyNodes = new List<string>();
        while (true)
        {
            var next = await Next(run, config);
            var changed = KeyNodes.Concat(["worker1", "worker2", "worker3"]).Where(n => DropletInput(next, n, key) != DropletInput(run, n, key)).ToList();
            run = next;
            if (changed.Count == 0)
            {
                break;
            }
            var keyChanged = changed.Intersect(KeyNodes).ToList();
            Assert.That(keyChanged, Has.Count.LessThanOrEqualTo(1), $"update {updates + 1} takes {string.Join(' ', keyChanged)} down at once");
            changedKeyNodes.AddRange(keyChanged);
            Assert.That(++updates, Is.LessThanOrEqualTo(12), "the roll never ends");
        }

        Assert.That(changedKeyNodes, Has.Count.EqualTo(keyNodes), "each etcd or control-plane node changed once");
        Assert.That(changedKeyNodes.Select(n => DropletInput(run, n, key)), Is.All.EqualTo(value));
        Assert.That(updates, Is.EqualTo(Math.Max(keyNodes, workers)));
        // Nothing else of a droplet changed on the way: user data and the account key are kept too.
        Assert.That(KeyNodes.Select(n => DropletInput(run, n, "region")), Is.All.EqualTo("fra1"));
    }

    [Test]
    public async Task EachUpdateSaysWhichNodeItRollsAndWhichWait()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";

        var second = await Next(first, config);

        Assert.That(second.Notes, Does.Contain("rolling cp1: image ubuntu-24-04-x64 -> ubuntu-22-04-x64 (a new droplet)"));
        Assert.That(second.Notes, Does.Contain("rolling worker1: image ubuntu-24-04-x64 -> ubuntu-22-04-x64 (a new droplet)"));
        Assert.That(second.Notes, Does.Contain("cp2 cp3 etcd1 etcd2 etcd3 worker2 worker3 keep their image and size for now (one etcd or control-plane node, and a quarter of the workers, per update): run pulumi up again to roll the next"));
        // What the next update is judged by: cp1's new image, every other node's old one.
        var nodes = (ImmutableDictionary<string, ImmutableDictionary<string, object>>)(await StackRun.OutputsOf(second))["nodes"];
        Assert.That(nodes["cp1"]["image"], Is.EqualTo("ubuntu-22-04-x64"));
        Assert.That(nodes["cp2"]["image"], Is.EqualTo("ubuntu-24-04-x64"));
    }

    // User data (a new release's) and the account SSH key matter only at a droplet's first boot:
    // a change of either replaces no droplet (ForceNew on both in the DigitalOcean provider).
    [Test]
    public async Task ANewAccountKeyOrUserDataReplacesNoDroplet()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:sshKeyFingerprint"] = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
        var olderRelease = first.Mocks.StateInputs.ToDictionary(kv => kv.Key, kv => kv.Key.StartsWith(Droplet, StringComparison.Ordinal)
            ? kv.Value.SetItem("userData", "#cloud-config from an older release") : kv.Value);

        var second = await StackRun.RunAsync("prod", config, new ClusterMocks
        {
            PreviousOutputs = await StackRun.OutputsOf(first),
            PreviousInputs = olderRelease,
        });

        foreach (var node in KeyNodes.Concat(["worker1", "worker2", "worker3"]))
        {
            Assert.That(DropletInput(second, node, "userData"), Is.EqualTo("#cloud-config from an older release"), node);
            Assert.That(second.Mocks.Named(node).Inputs["sshKeys"], Is.EqualTo(first.Mocks.Named(node).Inputs["sshKeys"]), node);
        }
        // A node added now boots the current user data with the current key.
        config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].TrimEnd(']') + """,{"name":"worker4","roles":["worker"]}]""";
        var third = await Next(second, config);
        Assert.That(DropletInput(third, "worker4", "userData"), Does.StartWith("#cloud-config\n# do-k8s-ha user data"));
    }

    // Each of these is an input of every droplet that replaces it: refused before any resource.
    [TestCase("do-k8s-ha:region", "ams3", "do-k8s-ha:region: fra1 -> ams3 would replace every droplet at once")]
    [TestCase("do-k8s-ha:vpcCidr", "10.250.0.0/20", "do-k8s-ha:vpcCidr: 10.250.0.0/20 does not hold the nodes' addresses (cp1 10.241.0.11,")]
    public async Task AChangeThatReplacesEveryDropletIsRefused(string key, string value, string expected)
    {
        var first = await StackRun.SharedAsync("prod");
        var config = StackRun.StackConfig("prod");
        config[key] = value;
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first) };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", config, mocks, isPreview: true));

        Assert.That(message, Does.Contain(expected));
        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));
    }

    // A renamed stack keeps its state and outputs; its cluster name, from the stack name, would
    // rename every tag, and every droplet carries them.
    [Test]
    public async Task ARenamedStackIsRefusedBeforeItRenamesEveryTag()
    {
        var first = await StackRun.SharedAsync("prod");
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first) };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("production", StackRun.StackConfig("prod"), mocks));

        Assert.That(message, Does.Contain("do-k8s-ha: this stack's cluster is named k8s-prod (its tags), and a stack of this name would call it k8s-production"));
        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));
    }

    [Test]
    public async Task AnUpgradeThatAddsANodeIsRefused()
    {
        var first = await StackRun.SharedAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:kubernetesVersion"] = "1.36.0";
        config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].TrimEnd(']') + """,{"name":"worker4","roles":["worker"]}]""";
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first) };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", config, mocks, isPreview: true));

        Assert.That(message, Does.Contain("do-k8s-ha:kubernetesVersion: 1.35.1 -> 1.36.0 in the update that adds worker4: a node that joins during an upgrade runs a kubelet newer than the API servers not upgraded yet. Fix: add the nodes with kubernetesVersion 1.35.1"));
    }

    [Test]
    public async Task AnUpgradeWhileARollWaitsIsRefused()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";
        var second = await Next(first, config);
        config["do-k8s-ha:kubernetesVersion"] = "1.36.0";

        var message = StackRun.FailureOf(() => Next(second, config, preview: true));

        Assert.That(message, Does.Contain("do-k8s-ha:kubernetesVersion: 1.35.1 -> 1.36.0 while cp2 cp3 etcd1 etcd2 etcd3 worker2 worker3 take a new image or size"));
    }

    // An update that changes the etcd or control-plane membership takes no node down for a roll.
    [Test]
    public async Task ARollWaitsWhileTheMembershipChanges()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";
        config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].TrimEnd(']') + """,{"name":"etcd4","roles":["etcd"]}]""";

        var second = await Next(first, config);

        Assert.That(KeyNodes.Select(n => DropletInput(second, n, "image")), Is.All.EqualTo("ubuntu-24-04-x64"));
        Assert.That(DropletInput(second, "etcd4", "image"), Is.EqualTo("ubuntu-22-04-x64"), "a new node takes the config's image");
    }

    // A failed update must not record what did not happen: everything the next update is judged
    // by resolves only after the health gate, and the SDK registers all outputs or none.
    [Test]
    public async Task WhatTheNextUpdateIsJudgedByWaitsForTheHealthGate()
    {
        var result = await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), new ClusterMocks { OutputsUnknown = new HashSet<string> { "health-check" } }, isPreview: true);

        Assert.That(await Known(result.Output<string>(StackHistory.KubernetesVersionOutput)), Is.False);
        Assert.That(await Known(result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>(StackHistory.NodesOutput)), Is.False);
    }

    [Test]
    public async Task AFailedStepLeavesTheLastUpdatesRecord()
    {
        var mocks = new ClusterMocks { RunRemoteCommand = (name, _) => name == "etcd-etcd2" ? throw new InvalidOperationException("etcd2 failed") : $"ran {name}" };

        try
        {
            await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks);
        }
        catch (Exception)
        {
            // The program fails with the step; what it registered is the point.
        }

        Assert.That(mocks.StackOutputsRegistered, Is.False);
    }

    /// <summary>Whether the output's value is known (Output&lt;T&gt;.DataTask and OutputData.IsKnown are internal to the SDK).</summary>
    private static async Task<bool> Known<T>(Pulumi.Output<T> output)
    {
        var task = (Task)typeof(Pulumi.Output<T>).GetProperty("DataTask", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(output)!;
        await task;
        var data = task.GetType().GetProperty("Result")!.GetValue(task)!;
        var type = data.GetType();
        return (bool)((object?)type.GetProperty("IsKnown")?.GetValue(data) ?? type.GetField("IsKnown")!.GetValue(data)!);
    }
}
