using System.Text;

namespace DoK8sHa.Scripts;

/// <summary>
/// The cluster's CAs and first credentials, as printed by cluster-pki.sh. Every field is secret
/// except the CA certificates and the discovery hash, which are public by nature.
/// </summary>
public sealed record ClusterPkiMaterial
{
    public required string CaCert { get; init; }
    public required string CaKey { get; init; }
    public required string FrontProxyCaCert { get; init; }
    public required string FrontProxyCaKey { get; init; }
    public required string EtcdCaCert { get; init; }
    public required string EtcdCaKey { get; init; }
    public required string ApiServerEtcdClientCert { get; init; }
    public required string ApiServerEtcdClientKey { get; init; }
    public required string AdminCert { get; init; }
    public required string AdminKey { get; init; }
    public required string ServiceAccountKey { get; init; }
    public required string ServiceAccountPublicKey { get; init; }

    /// <summary>kubeadm's discovery hash of the cluster CA, <c>sha256:…</c>.</summary>
    public required string CaCertHash { get; init; }

    /// <summary>A bootstrap token, <c>[a-z0-9]{6}.[a-z0-9]{16}</c>.</summary>
    public required string BootstrapToken { get; init; }

    /// <summary>Reads cluster-pki.sh's output; names what is missing when the script failed half-way.</summary>
    public static ClusterPkiMaterial Parse(string output)
    {
        var items = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                items[line[..space]] = line[(space + 1)..];
            }
        }

        string File(string name) => items.TryGetValue(name, out var b64)
            ? Encoding.UTF8.GetString(Convert.FromBase64String(b64)).TrimEnd('\n')
            : throw new InvalidOperationException($"cluster-pki.sh printed no {name}: run it by hand to see why (it needs bash and openssl)");

        return new ClusterPkiMaterial
        {
            CaCert = File("ca.crt"),
            CaKey = File("ca.key"),
            FrontProxyCaCert = File("front-proxy-ca.crt"),
            FrontProxyCaKey = File("front-proxy-ca.key"),
            EtcdCaCert = File("etcd-ca.crt"),
            EtcdCaKey = File("etcd-ca.key"),
            ApiServerEtcdClientCert = File("apiserver-etcd-client.crt"),
            ApiServerEtcdClientKey = File("apiserver-etcd-client.key"),
            AdminCert = File("admin.crt"),
            AdminKey = File("admin.key"),
            ServiceAccountKey = File("sa.key"),
            ServiceAccountPublicKey = File("sa.pub"),
            CaCertHash = items.TryGetValue("ca-cert-hash", out var hash) ? hash : throw new InvalidOperationException("cluster-pki.sh printed no ca-cert-hash"),
            BootstrapToken = items.TryGetValue("bootstrap-token", out var token) ? token : throw new InvalidOperationException("cluster-pki.sh printed no bootstrap-token"),
        };
    }
}
