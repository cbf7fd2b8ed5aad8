namespace DoK8sHa.Config;

/// <summary>etcd's snapshots (docs/backups.md).</summary>
/// <param name="EveryHours">Each etcd node snapshots its member this often (a systemd timer).</param>
/// <param name="Keep">Snapshots each node keeps of each kind (scheduled, before a change).</param>
/// <param name="Bucket">A Spaces bucket the program makes and every snapshot is uploaded to; null: none.</param>
/// <param name="RestoreFrom">A snapshot new etcd members start from instead of empty (<see cref="SnapshotSource"/>); null: none.</param>
public sealed record EtcdBackupSettings(int EveryHours, int Keep, string? Bucket, SnapshotSource? RestoreFrom);

/// <summary>
/// Where a restore's snapshot is: a file at the same absolute path on every etcd node (copied
/// there by the operator), or an object of the snapshot bucket each member downloads.
/// </summary>
public sealed record SnapshotSource(string? NodePath, string? BucketObject)
{
    public const string BucketScheme = "spaces:";

    public override string ToString() => NodePath ?? BucketScheme + BucketObject;
}
