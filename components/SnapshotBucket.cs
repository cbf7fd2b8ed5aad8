using DoK8sHa.Scripts;
using Pulumi;
using DO = Pulumi.DigitalOcean;

namespace DoK8sHa.Components;

public sealed class SnapshotBucketArgs
{
    /// <summary>The bucket's name (global across Spaces).</summary>
    public required string Bucket { get; init; }

    /// <summary>A Spaces region (ConfigParser.SpacesRegions).</summary>
    public required string Region { get; init; }

    /// <summary>Days an object is kept before Spaces deletes it.</summary>
    public required int KeepDays { get; init; }
}

/// <summary>
/// The off-site copy of etcd's snapshots: a private Spaces bucket whose lifecycle rule deletes
/// what is older than the retention, and a Spaces key that may read and write that bucket alone.
/// The bucket outlives `pulumi destroy` (its snapshots are what a restore needs); the provider
/// manages buckets with Spaces keys of the operator's own (docs/backups.md).
/// </summary>
public sealed class SnapshotBucket : ComponentResource
{
    public SnapshotBucket(string name, SnapshotBucketArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:SnapshotBucket", name, options)
    {
        var bucket = new DO.SpacesBucket($"{name}-bucket", new DO.SpacesBucketArgs
        {
            Name = args.Bucket,
            Region = args.Region,
            Acl = "private",
            LifecycleRules =
            {
                new DO.Inputs.SpacesBucketLifecycleRuleArgs
                {
                    Id = "etcd-snapshots-retention",
                    Enabled = true,
                    Prefix = "etcd/",
                    Expiration = new DO.Inputs.SpacesBucketLifecycleRuleExpirationArgs { Days = args.KeepDays },
                    AbortIncompleteMultipartUploadDays = 1,
                },
            },
        }, new CustomResourceOptions { Parent = this, RetainOnDelete = true, Protect = true });

        var key = new DO.SpacesKey($"{name}-key", new DO.SpacesKeyArgs
        {
            Name = $"{args.Bucket}-etcd-snapshots",
            Grants = { new DO.Inputs.SpacesKeyGrantArgs { Bucket = bucket.Name, Permission = "readwrite" } },
        }, new CustomResourceOptions { Parent = this });

        Upload = Output.CreateSecret(Output.Tuple(bucket.Name, key.AccessKey, key.SecretKey).Apply(t =>
            new SnapshotUpload($"https://{args.Region}.digitaloceanspaces.com", args.Region, t.Item1, t.Item2, t.Item3)));
        RegisterOutputs(new Dictionary<string, object?> { ["bucket"] = bucket.Name, ["endpoint"] = bucket.Endpoint });
    }

    /// <summary>Secret: where the etcd nodes upload, with the bucket's own key.</summary>
    public Output<SnapshotUpload> Upload { get; }
}
