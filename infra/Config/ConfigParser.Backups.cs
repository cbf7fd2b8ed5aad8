using System.Text.RegularExpressions;

namespace DoK8sHa.Config;

/// <summary>The etcd snapshot keys: schedule, retention, the off-site bucket, a restore.</summary>
public static partial class ConfigParser
{
    // Spaces bucket names follow S3's: 3 to 63 lower-case letters, digits and '-', starting and
    // ending with a letter or digit.
    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();

    // An object key the snapshot script writes: etcd/<node>-<stamp>-<kind>.db; any path of safe characters.
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
    private static partial Regex ObjectKey();

    /// <summary>The regions Spaces serves (terraform-provider-digitalocean digitalocean/spaces/spaces_entities.go).</summary>
    public static readonly IReadOnlyList<string> SpacesRegions = ["ams3", "atl1", "blr1", "fra1", "lon1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1"];

    private static EtcdBackupSettings ParseBackups(Func<string, string?> get, string region, Action<string, string, string> problem)
    {
        var every = Count(get, problem, "etcdSnapshotEveryHours", ConfigDefaults.EtcdSnapshotEveryHours, 1, 168, "hours");
        var keep = Count(get, problem, "etcdSnapshotKeep", ConfigDefaults.EtcdSnapshotKeep, 1, 1000, "snapshots");

        var bucket = get("etcdSnapshotBucket")?.Trim() ?? "";
        if (bucket.Length > 0 && !BucketName().IsMatch(bucket))
        {
            problem("etcdSnapshotBucket", $"'{bucket}' is not a Spaces bucket name", "use 3 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit (names are global: add the cluster's name)");
        }
        else if (bucket.Length > 0 && !SpacesRegions.Contains(region))
        {
            problem("etcdSnapshotBucket", $"Spaces has no buckets in the stack's region {region}", $"leave etcdSnapshotBucket empty, or run the cluster in a region Spaces serves: {string.Join(", ", SpacesRegions)}");
        }

        var from = get("etcdRestoreFrom")?.Trim() ?? "";
        SnapshotSource? source = null;
        if (from.StartsWith(SnapshotSource.BucketScheme, StringComparison.Ordinal))
        {
            var key = from[SnapshotSource.BucketScheme.Length..];
            if (bucket.Length == 0)
            {
                problem("etcdRestoreFrom", $"'{from}' names an object of the snapshot bucket, and etcdSnapshotBucket is not set", "set etcdSnapshotBucket to the bucket the snapshot is in");
            }
            else if (!ObjectKey().IsMatch(key) || key.Contains("..", StringComparison.Ordinal))
            {
                problem("etcdRestoreFrom", $"'{key}' is not an object key", "name the object as the bucket lists it, e.g. spaces:etcd/node1-20261206T120000Z-scheduled.db");
            }
            source = new SnapshotSource(null, key);
        }
        else if (from.Length > 0)
        {
            if (!from.StartsWith('/') || from.Contains("..", StringComparison.Ordinal) || from.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '`' or '\\'))
            {
                problem("etcdRestoreFrom", $"'{from}' is neither an absolute path on the etcd nodes nor spaces:<object>", "e.g. /root/restore.db (copied to every etcd node) or spaces:etcd/node1-20261206T120000Z-scheduled.db");
            }
            source = new SnapshotSource(from, null);
        }
        return new EtcdBackupSettings(every, keep, bucket.Length > 0 ? bucket : null, source);
    }
}
