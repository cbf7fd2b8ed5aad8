using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The snapshot keys judged before any resource, and the off-site bucket, its key and its
/// lifecycle as the program registers them under the mocks (in a preview too).
/// </summary>
public class EtcdBackupTests
{
    private const string Bucket = "digitalocean:index/spacesBucket:SpacesBucket";
    private const string SpacesKey = "digitalocean:index/spacesKey:SpacesKey";

    private static ClusterSettings Parse(Dictionary<string, string> values) => ConfigParserTests.Parse(values, out _);

    // The valid config of the parser's own tests, with these keys set.
    private static Dictionary<string, string> Valid(params (string Key, string Value)[] extra)
    {
        var values = ConfigParserTests.Valid();
        foreach (var (key, value) in extra)
        {
            values[key] = value;
        }
        return values;
    }

    [Test]
    public void SnapshotsAreOnByDefaultEverySixHoursKeepingEight()
    {
        var backups = Parse(Valid()).Backups;
        Assert.That(backups, Is.EqualTo(new EtcdBackupSettings(6, 8, null, null)));
    }

    [TestCase("etcdSnapshotEveryHours", "0", "do-k8s-ha:etcdSnapshotEveryHours: '0' is not a number of hours from 1 to 168. Fix: pulumi config set etcdSnapshotEveryHours 6")]
    [TestCase("etcdSnapshotKeep", "many", "do-k8s-ha:etcdSnapshotKeep: 'many' is not a number of snapshots from 1 to 1000. Fix: pulumi config set etcdSnapshotKeep 8")]
    [TestCase("etcdSnapshotBucket", "My_Bucket", "do-k8s-ha:etcdSnapshotBucket: 'My_Bucket' is not a Spaces bucket name.")]
    [TestCase("etcdRestoreFrom", "restore.db", "do-k8s-ha:etcdRestoreFrom: 'restore.db' is neither an absolute path on the etcd nodes nor spaces:<object>.")]
    [TestCase("etcdRestoreFrom", "/root/$(reboot).db", "do-k8s-ha:etcdRestoreFrom: '/root/$(reboot).db' is neither an absolute path")]
    [TestCase("etcdRestoreFrom", "spaces:etcd/node1.db", "do-k8s-ha:etcdRestoreFrom: 'spaces:etcd/node1.db' names an object of the snapshot bucket, and etcdSnapshotBucket is not set. Fix: set etcdSnapshotBucket")]
    public void ABadSnapshotSettingIsNamedWithItsFix(string key, string value, string problem)
    {
        var error = Assert.Throws<ConfigException>(() => Parse(Valid((key, value))))!;
        Assert.That(error.Problems, Has.Some.StartWith(problem), error.Message);
    }

    [Test]
    public void ABucketInARegionWithoutSpacesIsRefused()
    {
        var error = Assert.Throws<ConfigException>(() => Parse(Valid(("region", "nyc1"), ("etcdSnapshotBucket", "k8s-dev-snapshots"))))!;
        Assert.That(error.Problems, Has.Some.StartWith("do-k8s-ha:etcdSnapshotBucket: Spaces has no buckets in the stack's region nyc1. Fix: leave etcdSnapshotBucket empty, or run the cluster in a region Spaces serves: ams3, atl1"));
    }

    [Test]
    public void ARestoreNamesAFileOnTheNodesOrAnObjectOfTheBucket()
    {
        Assert.That(Parse(Valid(("etcdRestoreFrom", "/root/restore.db"))).Backups.RestoreFrom, Is.EqualTo(new SnapshotSource("/root/restore.db", null)));
        Assert.That(Parse(Valid(("etcdSnapshotBucket", "k8s-dev-snapshots"), ("etcdRestoreFrom", "spaces:etcd/node1-20261206T120000Z-scheduled.db"))).Backups.RestoreFrom,
            Is.EqualTo(new SnapshotSource(null, "etcd/node1-20261206T120000Z-scheduled.db")));
    }

    // Without a bucket nothing of Spaces is made, and the nodes keep their snapshots.
    [Test]
    public async Task WithoutABucketNoSpacesResourceIsMade()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        Assert.That(mocks.OfType(Bucket).Concat(mocks.OfType(SpacesKey)), Is.Empty);
        Assert.That(mocks.Named("snapshots-node1").Inputs["stdin"].ToString(), Does.Contain("OFFSITE=false"));
    }

    [Test]
    public async Task ABucketIsPrivateKeptAndExpiresOldSnapshotsAndItsKeyReachesOnlyTheBucket([Values] bool preview)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:etcdSnapshotBucket"] = "k8s-dev-snapshots";
        var mocks = new ClusterMocks();
        await StackRun.RunAsync("dev", config, mocks, isPreview: preview);

        var bucket = mocks.OfType(Bucket).Single();
        Assert.That((bucket.Inputs["name"], bucket.Inputs["region"], bucket.Inputs["acl"]), Is.EqualTo(("k8s-dev-snapshots", "lon1", "private")));
        var rule = (IDictionary<string, object>)((System.Collections.IEnumerable)bucket.Inputs["lifecycleRules"]).Cast<object>().Single();
        Assert.That(rule["prefix"], Is.EqualTo("etcd/"));
        Assert.That(rule["enabled"], Is.True);
        Assert.That(((IDictionary<string, object>)rule["expiration"])["days"], Is.EqualTo(7), "a week at least: 8 snapshots of 6 h are 2 days");
        Assert.That(((Pulumi.CustomResourceOptions)mocks.OptionsOf(Bucket, bucket.Name)).Protect, Is.True, "a snapshot bucket is never deleted by an update");
        Assert.That(((Pulumi.CustomResourceOptions)mocks.OptionsOf(Bucket, bucket.Name)).RetainOnDelete, Is.True, "pulumi destroy leaves the snapshots");

        var key = mocks.OfType(SpacesKey).Single();
        var grant = (IDictionary<string, object>)((System.Collections.IEnumerable)key.Inputs["grants"]).Cast<object>().Single();
        Assert.That((grant["bucket"], grant["permission"]), Is.EqualTo(("k8s-dev-snapshots", "readwrite")), "the nodes' key reaches this bucket alone");

        if (!preview)
        {
            // The key pair reaches each etcd node on stdin, in a step whose scripts are not kept.
            foreach (var node in new[] { "node1", "node2", "node3" })
            {
                var stdin = mocks.Named($"snapshots-{node}").Inputs["stdin"].ToString()!;
                Assert.That(stdin, Does.Contain("SPACES_BUCKET='k8s-dev-snapshots'").And.Contain($"SPACES_SECRET_KEY='{mocks.SpacesKeyPair.SecretKey}'").And.Contain("https://lon1.digitaloceanspaces.com"));
                Assert.That(stdin, Does.Contain("mktemp -d /run/do-k8s-ha-steps."));
                Assert.That(mocks.Named($"snapshots-{node}").Inputs["create"].ToString(), Does.Not.Contain(mocks.SpacesKeyPair.SecretKey));
            }
        }
    }

    // Each node snapshots once its own member runs, and the health gate waits for every setup.
    [Test]
    public async Task EachNodeSetsUpItsSnapshotsAfterItsMemberRuns()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        foreach (var node in new[] { "node1", "node2", "node3" })
        {
            Assert.That(mocks.Named($"snapshots-{node}").RegisteredAt, Is.GreaterThan(mocks.Named($"etcd-{node}.service").CompletedAt));
            Assert.That(mocks.Named("health-check").RegisteredAt, Is.GreaterThan(mocks.Named($"snapshots-{node}").CompletedAt));
        }
    }

    // Before etcd's members or a release change, a snapshot on every etcd node: each member's
    // configuration (member add, a new release) waits for all of them, and so does the upgrade.
    [Test]
    public async Task ChangesOfEtcdOrAReleaseWaitForASnapshotOnEveryEtcdNode()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var snapshots = new[] { "node1", "node2", "node3" }.Select(n => mocks.Named($"snapshot-before-change-{n}")).ToList();
        foreach (var waiting in new[] { "etcd-node1", "etcd-node2", "etcd-node3", "upgrade-node1" })
        {
            Assert.That(mocks.Named(waiting).RegisteredAt, Is.GreaterThan(snapshots.Max(s => s.CompletedAt)), waiting);
        }
        foreach (var snapshot in snapshots)
        {
            var triggers = ((System.Collections.IEnumerable)snapshot.Inputs["triggers"]).Cast<object>().Select(t => t.ToString()).ToList();
            Assert.That(triggers, Is.SupersetOf(new[] { ConfigDefaults.EtcdVersion, ConfigDefaults.KubernetesVersion, "node1,node2,node3" }));
        }
    }

    // The triggers are known in a preview, so the snapshot is planned before anything changes.
    [Test]
    public async Task AnAddedEtcdNodeRunsTheSnapshotsAgainInThePreview()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:nodes"] = """[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},{"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["etcd"]},{"name":"node5","roles":["etcd"]}]""";
        var mocks = new ClusterMocks();
        await StackRun.RunAsync("dev", config, mocks, isPreview: true);
        var triggers = ((System.Collections.IEnumerable)mocks.Named("snapshot-before-change-node1").Inputs["triggers"]).Cast<object>().Select(t => t.ToString()).ToList();
        Assert.That(triggers, Does.Contain("node1,node2,node3,node4,node5"));
        Assert.That(triggers, Does.Not.Contain(ClusterMocks.Unknown));
    }

    // A restore from the bucket: each member fetches the object before its etcd step, and the
    // member's step restores from where the fetch put it.
    [Test]
    public async Task ARestoreFromTheBucketIsFetchedBeforeEachMembersStep()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:etcdSnapshotBucket"] = "k8s-dev-snapshots";
        config["do-k8s-ha:etcdRestoreFrom"] = "spaces:etcd/node1-20261206T120000Z-scheduled.db";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        foreach (var node in new[] { "node1", "node2", "node3" })
        {
            var fetch = mocks.Named($"etcd-{node}.restore-snapshot");
            Assert.That(mocks.Named($"etcd-{node}").RegisteredAt, Is.GreaterThan(fetch.CompletedAt));
            Assert.That(fetch.Inputs["stdin"].ToString(), Does.Contain("OBJECT='etcd/node1-20261206T120000Z-scheduled.db'"));
            Assert.That(mocks.Named($"etcd-{node}").Inputs["stdin"].ToString(), Does.Contain("RESTORE_SNAPSHOT='/var/lib/etcd-restore/node1-20261206T120000Z-scheduled.db'"));
            // A member that stays (its data set aside, stopped) is started again by its service step.
            Assert.That(Triggers(mocks, $"etcd-{node}.service"), Does.Contain("/var/lib/etcd-restore/node1-20261206T120000Z-scheduled.db"));
        }
        var plain = (await StackRun.SharedAsync("dev")).Mocks;
        Assert.That(Triggers(plain, "etcd-node1.service"), Has.Count.EqualTo(1), "without a restore only the droplet triggers it");
    }

    private static List<string?> Triggers(ClusterMocks mocks, string step) =>
        [.. ((System.Collections.IEnumerable)mocks.Named(step).Inputs["triggers"]).Cast<object>().Select(t => t.ToString())];
}

/// <summary>
/// The health gate's snapshot age, etcd-snapshot-age.sh as rendered, against a curl stand-in that
/// answers etcd's JSON gateway as etcd does (kvs with base64 keys and values; no kvs when none).
/// </summary>
[NonParallelizable]
public class EtcdSnapshotAgeScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Stubs()
    {
        Repo.RequireTool("jq", "apt-get install jq");
        _node = new StubbedNode();
        // The request is checked as etcd reads it: a range over the record prefix.
        _node.Stub("curl", """
            for arg in "$@"; do [ "$prev" = -d ] && request=$arg; prev=$arg; done
            key=$(jq -r .key <<<"$request" | base64 -d); end=$(jq -r .range_end <<<"$request" | base64 -d)
            [ "$key" = /do-k8s-ha/snapshots/ ] && [ "$end" = /do-k8s-ha/snapshots0 ] || exit 22
            cat "$STATE/range"
            """);
    }

    [TearDown]
    public void Remove() => _node?.Dispose();

    private void Recorded(params (string Node, long SecondsAgo)[] records)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var kvs = records.Select(r => new
        {
            key = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("/do-k8s-ha/snapshots/" + r.Node)),
            value = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes((now - r.SecondsAgo).ToString(System.Globalization.CultureInfo.InvariantCulture))),
        }).ToArray();
        _node.WriteState("range", System.Text.Json.JsonSerializer.Serialize(kvs.Length == 0 ? (object)new { header = new { } } : new { header = new { }, kvs, count = kvs.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
    }

    private (int Exit, string Output) Run() =>
        _node.Run(Render.EtcdSnapshotAge(["https://10.240.0.2:2379", "https://10.240.0.3:2379"], everyHours: 6), scratch: []);

    [Test]
    public void TheNewestOfEveryNodesSnapshotsIsReported()
    {
        Recorded(("node1", 13 * 3600), ("node2", 30 * 60), ("node3", 5 * 3600));
        var (exit, output) = Run();
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("etcd snapshots: the newest is 30 minutes old"));
    }

    [Test]
    public void ANewestOlderThanTwiceTheScheduleFailsTheGate()
    {
        Recorded(("node1", 13 * 3600), ("node2", 12 * 3600 + 60));
        var (exit, output) = Run();
        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("etcd snapshots: the newest is older than 12 h"));
    }

    [Test]
    public void NoSnapshotEverTakenFailsTheGate()
    {
        Recorded();
        var (exit, output) = Run();
        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("etcd snapshots: none has been taken"));
    }
}
