using System.Collections.Concurrent;
using Pulumi;

namespace DoK8sHa.Bench;

/// <summary>
/// A whole-stack `pulumi destroy` under the model. The engine deletes a resource only after
/// everything that depends on it is deleted (pulumi pkg/engine: deletes in reverse dependency
/// order), and skips the delete of a resource whose deletedWith resource goes too. By kind, the
/// stack's dependencies run in three layers: what runs on or in the cluster (commands, the
/// Kubernetes provider and its objects), then what the droplets and the load balancer are, then
/// what those used (firewalls, tags, the SSH key, the VPC). With every delete of a layer at once
/// (the model's engine is unbounded here), the destroy takes the longest delete of each layer.
/// </summary>
public static class ModeledDestroy
{
    /// <summary>Resources whose delete the engine skips on a whole-stack destroy (deletedWith), by name.</summary>
    public static readonly ConcurrentDictionary<string, bool> DeletedWith = new();

    public sealed class CapturingStack : Stack
    {
        public CapturingStack()
            : base(new StackOptions
            {
                ResourceTransformations =
                {
                    args =>
                    {
                        if (args.Options.DeletedWith is not null)
                        {
                            DeletedWith[args.Resource.GetResourceName()] = true;
                        }
                        return null;
                    },
                },
            }) => ClusterProgram.Run();
    }

    // Seconds a delete takes, with its source. A step without a delete command deletes nothing.
    private static (int Layer, int Seconds) Delete(string type, string name, bool hasDeleteCommand)
    {
        if (DeletedWith.ContainsKey(name))
        {
            return (0, 0);
        }
        return type switch
        {
            // A departure's delete drains its node (up to 180 s) and removes it from etcd; none
            // runs on a whole-stack destroy (deletedWith the firewall).
            "command:remote:Command" => (0, hasDeleteCommand ? 60 : 0),
            // DigitalOcean deletes a droplet within seconds of the API call (DigitalOcean API docs:
            // DELETE /v2/droplets/{id} answers 204); the provider waits until it is gone.
            "digitalocean:index/droplet:Droplet" => (1, 10),
            "digitalocean:index/loadBalancer:LoadBalancer" => (1, 10),
            // Firewalls, tags, keys and the VPC go with one API call each; the VPC only once no
            // droplet or load balancer is in it (DigitalOcean refuses otherwise).
            "digitalocean:index/firewall:Firewall" or "digitalocean:index/tag:Tag" or "digitalocean:index/sshKey:SshKey" => (2, 2),
            "digitalocean:index/vpc:Vpc" => (2, 3),
            _ => (0, 0),
        };
    }

    /// <summary>The modeled seconds of destroying everything the mocks saw registered.</summary>
    public static int Seconds(IEnumerable<(string Type, string Name, bool HasDeleteCommand)> resources) =>
        resources.Select(r => Delete(r.Type, r.Name, r.HasDeleteCommand))
            .GroupBy(d => d.Layer)
            .Sum(layer => layer.Max(d => d.Seconds));
}
