using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DoK8sHa.Scripts;

/// <summary>
/// The cluster's CAs and the credentials the program issues from them (components/ClusterPki.cs).
/// Every field is secret except the certificates and the discovery hash, which are public by nature.
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

    /// <summary>The program's own identity (kubeadm:cluster-admins): its steps and its Kubernetes provider.</summary>
    public required string AdminCert { get; init; }
    public required string AdminKey { get; init; }

    /// <summary>The exported kubeconfig's identity (ClusterPki.OperatorGroup): revocable without breaking the program.</summary>
    public required string OperatorCert { get; init; }
    public required string OperatorKey { get; init; }
    public required string ServiceAccountKey { get; init; }
    public required string ServiceAccountPublicKey { get; init; }

    /// <summary>The only CA the API servers trust for a kubelet's serving certificate (its key stays in the state).</summary>
    public required string KubeletServingCaCert { get; init; }

    /// <summary>kubeadm's discovery hash of the cluster CA, <c>sha256:…</c>.</summary>
    public required string CaCertHash { get; init; }

    /// <summary>
    /// kubeadm's --discovery-token-ca-cert-hash: the SHA-256 of the CA's SubjectPublicKeyInfo
    /// (cmd/kubeadm/app/util/pubkeypin/pubkeypin.go).
    /// </summary>
    public static string DiscoveryHash(string caCertPem)
    {
        using var cert = X509Certificate2.CreateFromPem(caCertPem);
        var spki = cert.PublicKey.ExportSubjectPublicKeyInfo();
        return "sha256:" + Convert.ToHexString(SHA256.HashData(spki)).ToLowerInvariant();
    }
}

/// <summary>An etcd member's own certificate (server, peer and client use) and key.</summary>
public sealed record EtcdMemberCredential(string Cert, string Key);

/// <summary>A kubelet's own serving certificate and key, and the CA's certificate it is checked against before it is installed.</summary>
public sealed record KubeletServingCredential(string CaCert, string Cert, string Key);
