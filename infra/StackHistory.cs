using System.Collections;
using DoK8sHa.Config;
using Pulumi;

namespace DoK8sHa;

/// <summary>
/// The stack's own outputs from its last successful update, read through a reference to itself:
/// the engine's StackReference reads the backend's latest checkpoint (pulumi
/// pkg/resource/deploy/builtins.go, readStackReference), where the root stack keeps its previous
/// outputs until this run registers new ones at its end (step.go, SameStep.Apply). A new stack
/// has none. Plain C#: nothing is needed where `pulumi up` runs but the Pulumi CLI and .NET.
/// </summary>
public static class StackHistory
{
    /// <summary>The stack output the next run judges a version change by.</summary>
    public const string KubernetesVersionOutput = "kubernetesVersion";

    /// <summary>The stack output with every node and its roles (ClusterProgram).</summary>
    public const string NodesOutput = "nodes";

    /// <summary>The stack output with the nodes the update removed, whose departure runs after it is exported.</summary>
    public const string DepartingOutput = "departing";

    /// <summary>A node's `hostKey` in the nodes output when its droplet made its own SSH host key.</summary>
    public const string HostKeyMadeHere = "made-on-node";

    /// <summary>A node's `hostKey` in the nodes output when its droplet serves its user data's key.</summary>
    public const string HostKeyFromUserData = "user-data";

    /// <summary>A Kubernetes node's `releases` in the nodes output: it has a downloads step (releases.sh).</summary>
    public const string ReleaseFiles = "release-files";

    /// <summary>The stack output with the settings a live cluster cannot take a change of (kubeadm-config's).</summary>
    public const string ClusterSettingsOutput = "clusterSettings";

    public static async Task<PreviousDeployment> ReadAsync()
    {
        var deployment = Deployment.Instance;
        var self = new StackReference("previous-deployment", new StackReferenceArgs
        {
            Name = $"{deployment.OrganizationName}/{deployment.ProjectName}/{deployment.StackName}",
        });
        var version = await self.GetOutputDetailsAsync(KubernetesVersionOutput);
        var nodes = await self.GetOutputDetailsAsync(NodesOutput);
        var cluster = await self.GetOutputDetailsAsync(ClusterSettingsOutput);
        var departing = await self.GetOutputDetailsAsync(DepartingOutput);
        return FromOutputs(version.Value, nodes.Value, departing.Value) with { ClusterSettings = ClusterSettingsFrom(cluster.Value) };
    }

    /// <summary>The recorded cluster settings, by config key (null: not recorded).</summary>
    public static IReadOnlyDictionary<string, string>? ClusterSettingsFrom(object? output)
    {
        if (output is not IDictionary values)
        {
            return null;
        }
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        // IDictionary's own enumerator: an ImmutableDictionary's plain one yields KeyValuePairs.
        foreach (DictionaryEntry entry in values)
        {
            if (entry.Value is string value)
            {
                settings[(string)entry.Key] = value;
            }
        }
        return settings;
    }

    /// <summary>The previous deployment from its outputs' values (null: the output is absent).</summary>
    public static PreviousDeployment FromOutputs(object? kubernetesVersion, object? nodes, object? departing = null)
    {
        var version = kubernetesVersion is string text && KubernetesVersion.TryParse(text, out var parsed) ? parsed : null;
        if (nodes is not IDictionary byName)
        {
            return new PreviousDeployment(version);
        }
        var all = new Dictionary<string, PreviousNode>(StringComparer.Ordinal);
        string? cluster = null, region = null;
        foreach (var (name, node, fields) in Entries(byName))
        {
            all[name] = node;
            cluster ??= fields("cluster") as string;
            region ??= fields("region") as string;
        }
        return new PreviousDeployment(version, all, cluster, region)
        {
            Departing = departing is IDictionary leaving ? Entries(leaving).ToDictionary(e => e.Name, e => e.Node, StringComparer.Ordinal) : System.Collections.Immutable.ImmutableDictionary<string, PreviousNode>.Empty,
        };
    }

    private static IEnumerable<(string Name, PreviousNode Node, Func<string, object?> Field)> Entries(IDictionary byName)
    {
        foreach (DictionaryEntry node in byName)
        {
            if (node.Value is not IDictionary fields)
            {
                continue;
            }
            object? Field(string key) => fields.Contains(key) ? fields[key] : null;
            var roles = Field("roles") is IEnumerable names
                ? names.Cast<object>().Aggregate(NodeRoles.None, (r, n) => r | RoleNaming.ByName.GetValueOrDefault(n as string ?? "", NodeRoles.None))
                : NodeRoles.None;
            // Recorded since the change-safety release: the droplet's image and size, the cluster's
            // tag name and region; since the next, its droplet.
            var machine = Field("image") is string image && Field("size") is string size ? new NodeMachine(image, size) : null;
            yield return ((string)node.Key, new PreviousNode(roles, Field("privateIp") as string, machine, Field("dropletId") as string, Field("kubernetesVersion") as string, Field("hostKey") as string == HostKeyMadeHere)
            {
                HasDownloads = Field("releases") as string == ReleaseFiles,
            }, Field);
        }
    }
}
