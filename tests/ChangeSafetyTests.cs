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

    /// <summary>
    /// The message a `pulumi preview` of the prod stack, changed so after its first update, is
    /// refused with; nothing but the read of the stack's own outputs was registered.
    /// </summary>
    private static async Task<string> RefusedAfterProd(Action<Dictionary<string, string>> change)
    {
        var first = await StackRun.SharedAsync("prod");
        var config = StackRun.StackConfig("prod");
        change(config);
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first) };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", config, mocks, isPreview: true));

        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"), message);
        return message;
    }

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

    // DigitalOcean resizes a droplet powered off and starts it again, same id: no step of the node
    // runs again, so the update would end while its etcd member and API server are still coming
    // back, and the next could resize the next member. The health gate runs again and waits.
    [Test]
    public async Task AResizedNodeHoldsTheUpdateUntilTheClusterIsHealthyAgain()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:size"] = "s-8vcpu-16gb";
        static string Triggers(StackResult run) => string.Join(",", ((System.Collections.IEnumerable)run.Mocks.Named("health-check").Inputs["triggers"]).Cast<object>());

        var unchanged = await Next(first, StackRun.StackConfig("prod"));
        var resized = await Next(first, config);

        Assert.That(DropletInput(resized, "cp1", "size"), Is.EqualTo("s-8vcpu-16gb"));
        Assert.That(Triggers(unchanged), Is.EqualTo(Triggers(first)), "an unchanged stack runs no gate");
        Assert.That(Triggers(resized), Is.Not.EqualTo(Triggers(first)), "a resize runs the gate again");
    }

    // `pulumi preview` shows the same roll: it is decided before any resource is registered.
    [Test]
    public async Task EachUpdateSaysWhichNodeItRollsAndWhichWait([Values] bool preview)
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";

        var second = await Next(first, config, preview);
        Assert.That(KeyNodes.Where(n => DropletInput(second, n, "image") == "ubuntu-22-04-x64"), Is.EqualTo(new[] { "cp1" }));
        Assert.That(second.Notes, Does.Contain("rolling cp1: image ubuntu-24-04-x64 -> ubuntu-22-04-x64 (a new droplet)"));
        Assert.That(second.Notes, Does.Contain("rolling worker1: image ubuntu-24-04-x64 -> ubuntu-22-04-x64 (a new droplet)"));
        Assert.That(second.Notes, Does.Contain("cp2 cp3 etcd1 etcd2 etcd3 worker2 worker3 keep their image and size for now (one etcd or control-plane node, and a quarter of the workers, per update): run pulumi up again to roll the next"));
        if (preview)
        {
            return;
        }

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
    public async Task AChangeThatReplacesEveryDropletIsRefused(string key, string value, string expected) =>
        Assert.That(await RefusedAfterProd(c => c[key] = value), Does.Contain(expected));

    // What kubeadm wrote into the cluster when it made it (kubeadm-config, the manifests, every
    // pod's and Service's address): refused on a live cluster, with the value to set back.
    [TestCase("do-k8s-ha:podCidr", "10.100.0.0/16", "do-k8s-ha:podCidr: 10.233.64.0/18 -> 10.100.0.0/16 on a live cluster: every node's pod range")]
    [TestCase("do-k8s-ha:serviceCidr", "10.96.0.0/16", "do-k8s-ha:serviceCidr: 10.233.0.0/18 -> 10.96.0.0/16 on a live cluster")]
    [TestCase("do-k8s-ha:apiLoadBalancer", "none", "do-k8s-ha:apiLoadBalancer: digitalocean -> none on a live cluster")]
    public async Task ASettingKubeadmWroteIntoTheClusterIsRefusedOnceItIsMade(string key, string value, string expected)
    {
        var message = await RefusedAfterProd(c => c[key] = value);

        Assert.That(message, Does.Contain(expected));
        Assert.That(message, Does.Contain($"Fix: pulumi config set {key.Split(':')[1]} "));
    }

    // The audit log's rotation lives in kubeadm-config and each API server's manifest too, and is
    // rolled there: the API servers' flag steps take it, one control-plane node after another.
    [Test]
    public async Task ANewAuditRotationReachesEachApiServerInTurn()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:auditLogMaxAgeDays"] = "90";

        var second = await Next(first, config);

        foreach (var cp in new[] { "cp1", "cp2", "cp3" })
        {
            var script = second.Mocks.Named($"apiserver-endpoints-{cp}").Input("create");
            Assert.That(script, Does.Contain("audit-log-maxage=90"), cp);
            Assert.That(first.Mocks.Named($"apiserver-endpoints-{cp}").Input("create"), Does.Contain("audit-log-maxage=30"), cp);
        }
        Assert.That(second.Mocks.Named("apiserver-endpoints-cp2").RegisteredAt, Is.GreaterThan(second.Mocks.Named("apiserver-endpoints-cp1").CompletedAt));
        Assert.That(second.Mocks.Named("apiserver-endpoints-cp3").RegisteredAt, Is.GreaterThan(second.Mocks.Named("apiserver-endpoints-cp2").CompletedAt));
    }

    // A renamed stack keeps its state and outputs; its cluster name, from the stack name, would
    // rename every tag, and every droplet carries them: it keeps the name it was made with.
    [Test]
    public async Task ARenamedStackKeepsItsClustersName()
    {
        var first = await StackRun.SharedAsync("prod");
        var mocks = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(first), PreviousInputs = first.Mocks.StateInputs };

        var renamed = await StackRun.RunAsync("production", StackRun.StackConfig("prod"), mocks);

        foreach (var node in KeyNodes)
        {
            Assert.That(renamed.Mocks.Named(node).Inputs["tags"], Is.EqualTo(first.Mocks.Named(node).Inputs["tags"]), node);
        }
        var made = StackRun.ClusterName("prod");
        Assert.That(renamed.Mocks.Named("network-firewall").Inputs["name"], Is.EqualTo($"{made}-nodes"));
        Assert.That(renamed.Notes, Does.Contain($"the cluster keeps the name it was made with, {made}, which its tags and resources carry"));
        var nodes = (ImmutableDictionary<string, ImmutableDictionary<string, object>>)(await StackRun.OutputsOf(renamed))["nodes"];
        Assert.That(nodes["cp1"]["cluster"], Is.EqualTo(made), "and records it for the next update");
    }

    // Every new stack's cluster has a name of its own: two stacks whose names normalise alike
    // (Dev, dev, dev_), or of one name in two projects or organizations, never share a tag, so no
    // firewall or load balancer of one targets the other's droplets. A stack made by a release
    // that recorded no name keeps the one that release gave it.
    [Test]
    public async Task EveryNewStacksClusterHasANameOfItsOwn()
    {
        var names = new[] { ("organization", "do-k8s-ha", "dev"), ("organization", "do-k8s-ha", "Dev"), ("organization", "do-k8s-ha", "dev_"), ("organization", "my-cluster", "dev"), ("someone", "do-k8s-ha", "dev") }
            .Select(n => Config.ConfigParser.UniqueClusterNameFor(n.Item1, n.Item2, n.Item3)).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(names, Is.All.Match("^k8s-dev-[0-9a-f]{6}$"));

        var dev = await StackRun.SharedAsync("dev");
        Assert.That(dev.Mocks.Named("network-tag-cluster").Inputs["name"], Is.EqualTo(names[0]));
        var legacy = new ClusterMocks
        {
            PreviousOutputs = EarlierReleasesDevRecord,
        };
        var old = await StackRun.RunAsync("dev", StackRun.StackConfig("dev"), legacy);
        Assert.That(old.Mocks.Named("network-tag-cluster").Inputs["name"], Is.EqualTo("k8s-dev"), "a stack that recorded no name keeps its old one");
    }

    // `pulumi new` of this template under another project name: Pulumi namespaces the keys by the
    // project's name, and the program reads them there, naming them so in its messages.
    [Test]
    public async Task AProjectOfAnotherNameReadsItsOwnKeys()
    {
        var config = StackRun.StackConfig("dev").ToDictionary(kv => kv.Key.Replace("do-k8s-ha:", "my-cluster:", StringComparison.Ordinal), kv => kv.Value);
        config["my-cluster:region"] = "ams3";
        try
        {
            var run = await StackRun.RunAsync("dev", config, project: "my-cluster");
            Assert.That(run.Mocks.Named("node1").Inputs["region"], Is.EqualTo("ams3"));

            config["my-cluster:kubernetesVersion"] = "1.2";
            var message = StackRun.FailureOf(() => StackRun.RunAsync("dev", config, project: "my-cluster"));
            Assert.That(message, Does.Contain("my-cluster:kubernetesVersion"));
        }
        finally
        {
            Config.ConfigDefaults.UseProject("do-k8s-ha");
        }
    }

    [Test]
    public async Task AnUpgradeThatAddsANodeIsRefused()
    {
        var message = await RefusedAfterProd(config =>
        {
            Fixtures.UpgradeToNextMinor(config);
            config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].TrimEnd(']') + """,{"name":"worker4","roles":["worker"]}]""";
        });

        Assert.That(message, Does.Contain("do-k8s-ha:kubernetesVersion: 1.37.1 -> 1.38.0 in the update that adds worker4: a node that joins during an upgrade runs a kubelet newer than the API servers not upgraded yet. Fix: add the nodes with kubernetesVersion 1.37.1"));
    }

    [Test]
    public async Task AnUpgradeWhileARollWaitsIsRefused()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";
        var second = await Next(first, config);
        Fixtures.UpgradeToNextMinor(config);

        var message = StackRun.FailureOf(() => Next(second, config, preview: true));

        Assert.That(message, Does.Contain("do-k8s-ha:kubernetesVersion: 1.37.1 -> 1.38.0 while cp2 cp3 etcd1 etcd2 etcd3 worker2 worker3 take a new image or size"));
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

    // A node that changes roles is a new droplet anyway: it takes the config's image and user
    // data, not its old droplet's (an ignored input keeps its old value on a replacement too).
    [Test]
    public async Task ANodeThatChangesRolesTakesTheNewImage()
    {
        var first = await StackRun.RunAsync("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:image"] = "ubuntu-22-04-x64";
        config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].Replace("""{"name":"worker3","roles":["worker"]""", """{"name":"worker3","roles":["worker","control-plane"]""", StringComparison.Ordinal);
        Assert.That(config["do-k8s-ha:nodes"], Does.Contain("\"worker3\",\"roles\":[\"worker\",\"control-plane\"]"));

        var second = await Next(first, config);

        Assert.That(DropletInput(second, "worker3", "image"), Is.EqualTo("ubuntu-22-04-x64"));
        Assert.That(KeyNodes.Select(n => DropletInput(second, n, "image")), Is.All.EqualTo("ubuntu-24-04-x64"), "a membership change rolls no etcd or control-plane node");
    }

    // A failed update must not record what did not happen: everything the next update is judged
    // by resolves only after the health gate, and the SDK registers all outputs or none.
    [Test]
    public async Task WhatTheNextUpdateIsJudgedByWaitsForTheHealthGate()
    {
        var result = await StackRun.RunAsync("prod", StackRun.StackConfig("prod"), new ClusterMocks { OutputsUnknown = new HashSet<string> { "health-check" } }, isPreview: true);

        Assert.That(await Known(result.Output<string>(StackHistory.KubernetesVersionOutput)), Is.False);
        Assert.That(await Known(result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>(StackHistory.NodesOutput)), Is.False);
        Assert.That(await Known(result.Output<ImmutableDictionary<string, string>>(StackHistory.ClusterSettingsOutput)), Is.False);
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

    /// <summary>
    /// The dev stack's outputs as a release before the change-safety one left them: each node's
    /// roles only (no cluster name, image, size or droplet id).
    /// </summary>
    private static Dictionary<string, object> EarlierReleasesDevRecord
    {
        get
        {
            static ImmutableDictionary<string, object> Roles(params object[] roles) => ImmutableDictionary<string, object>.Empty.Add("roles", ImmutableArray.Create(roles));
            return new Dictionary<string, object>
            {
                ["nodes"] = ImmutableDictionary<string, object>.Empty
                    .Add("node1", Roles("control-plane", "etcd")).Add("node2", Roles("control-plane", "etcd", "worker")).Add("node3", Roles("etcd", "worker")),
            };
        }
    }

    private static void RemoveNodes(Dictionary<string, string> config, params string[] names)
    {
        var nodes = System.Text.Json.Nodes.JsonNode.Parse(config["do-k8s-ha:nodes"])!.AsArray();
        foreach (var node in nodes.Where(n => names.Contains((string?)n!["name"])).ToList())
        {
            nodes.Remove(node);
        }
        config["do-k8s-ha:nodes"] = nodes.ToJsonString();
    }

    // The engine deletes what the program no longer declares after the program has exported its
    // record: a removed member whose departure failed is still a member the record has dropped.
    // DigitalOcean still lists its droplet (the droplet goes only after its departure), so the next
    // update counts it, and a second removal would take two members in one update.
    [Test]
    public async Task ARemovalWhoseDepartureDidNotFinishStillCounts([Values] bool preview)
    {
        var first = await StackRun.RunAsync("prod");
        var withoutEtcd3 = StackRun.StackConfig("prod");
        RemoveNodes(withoutEtcd3, "etcd3");
        var removed = await Next(first, withoutEtcd3);
        var departing = (ImmutableDictionary<string, ImmutableDictionary<string, object>>)(await StackRun.OutputsOf(removed))[StackHistory.DepartingOutput];
        Assert.That(departing.Keys, Is.EqualTo(new[] { "etcd3" }));
        Assert.That(departing["etcd3"]["dropletId"], Is.EqualTo(ClusterMocks.DropletIdOf("etcd3")));
        // etcd3's departure failed: the engine kept its step and its droplet in the state.
        var stateAfterFailedDelete = first.Mocks.StateInputs.ToDictionary(kv => kv.Key, kv => kv.Value).ToImmutableDictionary().SetItems(removed.Mocks.StateInputs);

        var bothGone = StackRun.StackConfig("prod");
        RemoveNodes(bothGone, "etcd3", "etcd2");
        var refused = new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(removed), PreviousInputs = stateAfterFailedDelete };
        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", bothGone, refused, isPreview: preview));
        Assert.That(message, Does.Contain("do-k8s-ha:nodes: takes the role etcd from etcd2 etcd3 in one update (etcd3 did not finish leaving in the last update: its droplet still runs, and this update runs its departure again); etcd lets one member go per update"));
        Assert.That(refused.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));

        // The same inventory again runs the departure again, and keeps etcd3 in the record until it is gone.
        var again = await StackRun.RunAsync("prod", withoutEtcd3, new ClusterMocks { PreviousOutputs = await StackRun.OutputsOf(removed), PreviousInputs = stateAfterFailedDelete }, isPreview: preview);
        Assert.That(again.Notes, Does.Contain($"etcd3 did not finish leaving in the last update (its droplet {ClusterMocks.DropletIdOf("etcd3")} still runs): this update runs its departure again"));
        if (preview)
        {
            return;
        }
        Assert.That(((ImmutableDictionary<string, ImmutableDictionary<string, object>>)(await StackRun.OutputsOf(again))[StackHistory.DepartingOutput]).Keys, Is.EqualTo(new[] { "etcd3" }));

        // Once its droplet is gone, etcd2 may go.
        var next = await Next(again, bothGone);
        Assert.That(next.Notes, Does.Contain("etcd members: removing etcd2"));
    }

    // Every load balancer and firewall of the cluster takes its droplets by the cluster's tag: a
    // droplet there that is not this stack's (another cluster's of the same name) stops the update.
    // The provider's exact match ignores case (datalist values.go, strings.EqualFold), so a tag
    // spelt in capitals is the same tag.
    [Test]
    public async Task ADropletOfAnotherClusterOnTheTagStopsTheUpdate([Values] bool preview, [Values] bool capitals)
    {
        var first = await StackRun.SharedAsync("prod");
        var tag = StackRun.ClusterName("prod");
        var spelt = capitals ? tag.ToUpperInvariant() : tag;
        var mocks = new ClusterMocks
        {
            PreviousOutputs = await StackRun.OutputsOf(first),
            PreviousInputs = first.Mocks.StateInputs,
            ForeignDroplets = [new AccountDroplet("4242", "cp1", [spelt, $"{spelt}-control-plane"], "2025-03-01T09:00:00Z")],
        };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("prod", StackRun.StackConfig("prod"), mocks, isPreview: preview));

        Assert.That(message, Does.Contain($"do-k8s-ha:nodes: the tag {tag}, which this cluster's load balancer and firewalls take their droplets by, carries droplets that are not this stack's nodes: cp1 (id 4242, created 2025-03-01T09:00:00Z)."));
        Assert.That(message, Does.Contain("docs/day-2.md \"Two stacks share a tag\""));
        Assert.That(mocks.Resources.Select(r => r.Type), Is.All.EqualTo("pulumi:pulumi:StackReference"));
    }

    // Two stacks of an earlier release that share a tag record no droplets: a name twice on the
    // tag (a node has one droplet at a time) or a name neither knows is another cluster's.
    [TestCase("node1", "two droplets named node1")]
    [TestCase("web1", "a droplet no inventory names")]
    public async Task AnEarlierReleasesStackSharingItsTagIsStopped(string name, string what)
    {
        var mocks = new ClusterMocks
        {
            PreviousOutputs = EarlierReleasesDevRecord,
            AccountDroplets = () => new[] { "node1", "node2", "node3" }.Select(n => new AccountDroplet(ClusterMocks.DropletIdOf(n), n, ["k8s-dev"]))
                .Append(new AccountDroplet("4242", name, ["k8s-dev"])),
        };

        var message = StackRun.FailureOf(() => StackRun.RunAsync("dev", StackRun.StackConfig("dev"), mocks, isPreview: true));

        Assert.That(message, Does.Contain($"{name} (id 4242,"), what);
    }

    // What an update that failed before its record made is still this stack's: a new stack's
    // first droplets, a node added, a node replaced (its recorded droplet gone).
    [Test]
    public async Task DropletsOfAnUpdateThatFailedBeforeItsRecordAreThisStacks([Values] bool recorded)
    {
        var made = await StackRun.SharedAsync("prod");
        var tag = StackRun.ClusterName("prod");
        var config = StackRun.StackConfig("prod");
        config["do-k8s-ha:nodes"] = config["do-k8s-ha:nodes"].TrimEnd(']') + """,{"name":"worker4","roles":["worker"]}]""";
        var mocks = new ClusterMocks
        {
            // Recorded: the last update that passed its gate; not: the stack's first update failed.
            PreviousOutputs = recorded ? await StackRun.OutputsOf(made) : ImmutableDictionary<string, object>.Empty,
            PreviousInputs = made.Mocks.StateInputs,
            AccountDroplets = () => KeyNodes.Concat(["worker1", "worker2", "worker3", "worker4"])
                .Select(n => new AccountDroplet(ClusterMocks.DropletIdOf(n, n == "cp2" ? 1 : 0), n, [tag])),
        };

        var run = await StackRun.RunAsync("prod", config, mocks);

        Assert.That(run.Mocks.OfType(Droplet).Count(), Is.EqualTo(10));
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
