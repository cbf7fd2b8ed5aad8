using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>Where an etcd node uploads its snapshots (a Spaces bucket through S3's API) and with which key.</summary>
/// <param name="Endpoint">https://&lt;region&gt;.digitaloceanspaces.com (path-style requests).</param>
public sealed record SnapshotUpload(string Endpoint, string Region, string Bucket, string AccessKey, string SecretKey);

/// <summary>etcd's snapshots: the script that takes one, its timer, and the step that sets them up.</summary>
public static partial class Render
{
    public const string EtcdSnapshotDir = "/var/lib/etcd-snapshots";
    public const string EtcdSnapshotClientDir = "/etc/etcd/snapshot";

    /// <summary>The common name of the snapshots' client certificates (etcd takes any client its CA signed).</summary>
    public const string EtcdSnapshotCommonName = "etcd-snapshot";

    /// <summary>Where the snapshots' setup step installs the tool (etcd-snapshots.sh); absent on a member set up before it.</summary>
    public const string EtcdSnapshotTool = "/usr/local/sbin/etcd-snapshot";

    /// <summary>Where each etcd node records, in etcd, when it last kept a snapshot (the health gate reads it).</summary>
    public const string EtcdSnapshotRecordPrefix = "/do-k8s-ha/snapshots/";

    /// <summary>The health gate's check that the newest snapshot is younger than twice the schedule.</summary>
    public static string EtcdSnapshotAge(
        IEnumerable<string> clientEndpoints,
        int everyHours,
        string caFile = KubePki + "/etcd/ca.crt",
        string certFile = KubePki + "/apiserver-etcd-client.crt",
        string keyFile = KubePki + "/apiserver-etcd-client.key") =>
        Template.Render("etcd-snapshot-age.sh", new Dictionary<string, string>
        {
            ["CLIENT_ENDPOINTS"] = Sh.Quote(string.Join(",", clientEndpoints)),
            ["CA_FILE"] = Sh.Quote(caFile),
            ["CERT_FILE"] = Sh.Quote(certFile),
            ["KEY_FILE"] = Sh.Quote(keyFile),
            ["RECORD_PREFIX"] = Sh.Quote(EtcdSnapshotRecordPrefix),
            ["MAX_AGE_HOURS"] = Invariant(2 * everyHours),
        });

    /// <summary>/usr/local/sbin/etcd-snapshot: one snapshot of this node's member, checked, kept, uploaded.</summary>
    public static string EtcdSnapshot(string nodeName, int keep, string snapshotDir = EtcdSnapshotDir, string clientDir = EtcdSnapshotClientDir) =>
        Template.Render("etcd-snapshot.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["ENDPOINT"] = Sh.Quote($"https://127.0.0.1:{Ports.EtcdClient}"),
            ["SNAPSHOT_DIR"] = Sh.Quote(snapshotDir),
            ["CLIENT_DIR"] = Sh.Quote(clientDir),
            ["KEEP"] = Invariant(keep),
            ["RECORD_PREFIX"] = EtcdSnapshotRecordPrefix,
            ["SNAPSHOT_CHECKSUM"] = Fragment("snapshot-checksum.fragment"),
        });

    public static string EtcdSnapshotService(string snapshotDir = EtcdSnapshotDir) =>
        Template.Render("etcd-snapshot.service", new Dictionary<string, string> { ["SNAPSHOT_DIR"] = snapshotDir, ["SNAPSHOT_TOOL"] = EtcdSnapshotTool }).TrimEnd('\n');

    public static string EtcdSnapshotTimer(int everyHours) =>
        Template.Render("etcd-snapshot.timer", new Dictionary<string, string> { ["EVERY_HOURS"] = Invariant(everyHours) }).TrimEnd('\n');

    /// <summary>The step that installs the snapshot's credential, script, upload key and timer, then takes one.</summary>
    public static string EtcdSnapshots(string nodeName, string etcdCaCert, EtcdMemberCredential client, int everyHours, int keep, SnapshotUpload? upload) =>
        Template.Render("etcd-snapshots.sh", new Dictionary<string, string>
        {
            ["INSTALL_TOOL"] = Fragment("install-tool.fragment"),
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["CLIENT_DIR"] = Sh.Quote(EtcdSnapshotClientDir),
            ["SNAPSHOT_DIR"] = EtcdSnapshotDir,
            ["SNAPSHOT_TOOL"] = EtcdSnapshotTool,
            ["EVERY_HOURS"] = Invariant(everyHours),
            ["ETCD_CA_CERT"] = Pem(etcdCaCert),
            ["CLIENT_CERT"] = Pem(client.Cert),
            ["CLIENT_KEY"] = Pem(client.Key),
            ["OFFSITE"] = upload is null ? "false" : "true",
            ["OFFSITE_ENV"] = upload is null ? "" : string.Join("\n",
                $"SPACES_ENDPOINT={Sh.Quote(upload.Endpoint)}",
                $"SPACES_REGION={Sh.Quote(upload.Region)}",
                $"SPACES_BUCKET={Sh.Quote(upload.Bucket)}",
                $"SPACES_ACCESS_KEY={Sh.Quote(upload.AccessKey)}",
                $"SPACES_SECRET_KEY={Sh.Quote(upload.SecretKey)}"),
            ["SNAPSHOT_SCRIPT"] = EtcdSnapshot(nodeName, keep).TrimEnd('\n'),
            ["SERVICE_UNIT"] = EtcdSnapshotService(),
            ["TIMER_UNIT"] = EtcdSnapshotTimer(everyHours),
        });

    /// <summary>A snapshot of this node's member, if it has one, before a change of etcd's members or a release.</summary>
    public static string EtcdBeforeChange(string nodeName, string dataDir = EtcdDataDir) =>
        Template.Render("etcd-before-change.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["DATA_DIR"] = Sh.Quote(dataDir),
            ["SNAPSHOT_TOOL"] = Sh.Quote(EtcdSnapshotTool),
        });

    /// <summary>Where a node keeps the bucket's snapshot it restores from.</summary>
    public static string EtcdRestoreTarget(string bucketObject) => $"/var/lib/etcd-restore/{Path.GetFileName(bucketObject)}";

    /// <summary>Downloads the snapshot a new cluster restores from, unless the member has data.</summary>
    public static string EtcdSnapshotFetch(string nodeName, string bucketObject, SnapshotUpload bucket, string dataDir = EtcdDataDir) =>
        Template.Render("etcd-snapshot-fetch.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["DATA_DIR"] = Sh.Quote(dataDir),
            ["OBJECT"] = Sh.Quote(bucketObject),
            ["TARGET"] = Sh.Quote(EtcdRestoreTarget(bucketObject)),
            ["SPACES_ENDPOINT"] = Sh.Quote(bucket.Endpoint),
            ["SPACES_REGION"] = Sh.Quote(bucket.Region),
            ["SPACES_BUCKET"] = Sh.Quote(bucket.Bucket),
            ["ACCESS_KEY"] = CurlConfigValue(bucket.AccessKey),
            ["SECRET_KEY"] = CurlConfigValue(bucket.SecretKey),
            ["SNAPSHOT_CHECKSUM"] = Fragment("snapshot-checksum.fragment"),
        });

    // A value inside a curl config file's double quotes (curl tool_parsecfg.c unslashquote: \\ and \" are escapes).
    private static string CurlConfigValue(string value) =>
        value.Contains('\n', StringComparison.Ordinal) ? throw new ArgumentException("a Spaces key has no line breaks")
            : value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
