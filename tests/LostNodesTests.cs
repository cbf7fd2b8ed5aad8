using DoK8sHa.Config;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// lostNodes, the key of the runbooks where no node could take the lost ones out of the cluster:
/// judged before any resource, and what it changes in the program's registrations (the lost
/// nodes' departures run nothing; with every control-plane node lost, the first restores the
/// control plane once the old leases lapse).
/// </summary>
public class LostNodesTests
{
    private static Dictionary<string, string> Valid(string lost)
    {
        var values = ConfigParserTests.Valid();
        values["lostNodes"] = lost;
        return values;
    }

    [TestCase("""["node9"]""", "do-k8s-ha:lostNodes[0]: 'node9' is not a node of the inventory. Fix: list only names from nodes (node1, node2, node3), or `pulumi config rm lostNodes`")]
    [TestCase("""["node1","node1"]""", "do-k8s-ha:lostNodes[1]: 'node1' is listed twice")]
    [TestCase("node1", "do-k8s-ha:lostNodes: is not a list. Fix: set a list, e.g. `pulumi config set --path 'lostNodes[0]' node1`")]
    public void ABadListIsNamedWithItsFix(string lost, string problem)
    {
        var error = Assert.Throws<ConfigException>(() => ConfigParserTests.Parse(Valid(lost), out _))!;
        Assert.That(error.Problems, Has.Some.StartWith(problem), error.Message);
    }

    /// <summary>
    /// node1 and node3 lost: node2, a control-plane node, lives and takes them out of Kubernetes;
    /// but one member of three is no quorum, so no member can be removed: only the etcd
    /// departures are disarmed, and the warning names just those.
    /// </summary>
    [Test]
    public void ListedNodesAreWarnedOfWithTheUpdateThatRecordsTheirDisarmedDepartures()
    {
        var settings = ConfigParserTests.Parse(Valid("""["node1","node3"]"""), out var warnings);

        Assert.That(settings.LostNodes, Is.EquivalentTo(new[] { "node1", "node3" }));
        Assert.That(warnings, Has.Some.EqualTo(
            "do-k8s-ha:lostNodes is set (node1, node3): a rolling upgrade passes them by and the health gate does not wait for them; "
            + "no live node can take node1, node3 out of the cluster, so those departures run nothing. Before their droplets are replaced, record that: "
            + "pulumi up --target '**::leave-node1.etcd' --target '**::leave-node3.etcd' "
            + "(docs/backups.md). Remove lostNodes once they are back."));
        Assert.That(ConfigParserTests.Parse(ConfigParserTests.Valid(), out _).LostNodes, Is.Empty, "none by default");
    }

    [Test]
    public void OneLostNodeOfThreeKeepsItsDeparturesAndNeedsNoTargetedUpdate()
    {
        ConfigParserTests.Parse(Valid("""["node1"]"""), out var warnings);

        Assert.That(warnings, Has.Some.EqualTo(
            "do-k8s-ha:lostNodes is set (node1): a rolling upgrade passes them by and the health gate does not wait for them; "
            + "their departures still run, on a live node. Remove lostNodes once they are back."));
    }

    /// <summary>
    /// A departure no live node could run has no command at all, so neither its update nor a later
    /// delete dials (pulumi-command remote/commandController.go: Update runs update or create,
    /// Delete returns at once without a delete command); one a live node can run keeps its command.
    /// </summary>
    [TestCase("""["node1"]""", new string[0], new[] { "leave-node1", "leave-node1.etcd", "leave-node2", "leave-node2.etcd", "leave-node3", "leave-node3.etcd" })]
    [TestCase("""["node1","node2"]""", new[] { "leave-node1", "leave-node1.etcd", "leave-node2", "leave-node2.etcd" }, new[] { "leave-node3", "leave-node3.etcd" })]
    [TestCase("""["node2","node3"]""", new[] { "leave-node2.etcd", "leave-node3.etcd" }, new[] { "leave-node1", "leave-node1.etcd", "leave-node2", "leave-node3" })]
    public async Task ADepartureNoLiveNodeCanRunRunsNothingAndTheOthersKeepTheirs(string lost, string[] disarmed, string[] armed)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = lost;
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        foreach (var step in disarmed)
        {
            var inputs = mocks.Named(step).Inputs;
            Assert.That(new[] { "create", "update", "delete" }.Where(inputs.ContainsKey), Is.Empty, step);
            Assert.That(inputs["stdin"], Is.EqualTo(""), step);
        }
        foreach (var step in armed)
        {
            Assert.That(mocks.Named(step).Inputs.ContainsKey("delete"), step);
            Assert.That(mocks.Named(step).Inputs["stdin"].ToString(), Does.Contain("node-leave").Or.Contain("etcd-member-remove"), step);
        }
    }

    /// <summary>
    /// A listed node's metadata guard runs nothing (it would dial a dead droplet); the others' load
    /// their rules.
    /// </summary>
    [Test]
    public async Task ALostNodesMetadataGuardRunsNothing()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = """["node2"]""";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        var lost = mocks.Named("metadata-guard-node2").Inputs;
        Assert.That(new[] { "create", "update", "delete" }.Where(lost.ContainsKey), Is.Empty);
        Assert.That(lost["stdin"], Is.EqualTo(""));
        foreach (var live in new[] { "metadata-guard-node1", "metadata-guard-node3" })
        {
            Assert.That(mocks.Named(live).Inputs["stdin"].ToString(), Does.Contain("do_k8s_ha_metadata_guard"), live);
        }
    }

    /// <summary>
    /// Only with every control-plane node listed is a restore of the control plane waited for by
    /// the leases alone; one control-plane node left out keeps the long wait.
    /// </summary>
    [TestCase("""["node1","node2"]""", "PEERS_LOST=true")]
    [TestCase("""["node1","node2","node3"]""", "PEERS_LOST=true")]
    [TestCase("""["node1"]""", "PEERS_LOST=false")]
    [TestCase("[]", "PEERS_LOST=false")]
    public async Task TheControlPlaneIsRestoredOnTheLeasesAloneOnlyWhenEveryControlPlaneNodeIsLost(string lost, string expected)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:lostNodes"] = lost;
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        foreach (var step in new[] { "control-plane-node1", "control-plane-node2" })
        {
            Assert.That(mocks.Named(step).Inputs["stdin"].ToString(), Does.Contain(expected), step);
        }
    }
}
