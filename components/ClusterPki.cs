using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Tls = Pulumi.Tls;

namespace DoK8sHa.Components;

public sealed class ClusterPkiArgs
{
    /// <summary>The etcd members: each gets a certificate for its private address, signed here.</summary>
    public required IReadOnlyList<(string Name, Output<string> PrivateIp)> EtcdMembers { get; init; }

    /// <summary>
    /// Every node that runs a kubelet: each gets a serving certificate for its own name and private
    /// address, signed here by the kubelet-serving CA.
    /// </summary>
    public IReadOnlyList<(string Name, Output<string> PrivateIp)> KubeletNodes { get; init; } = [];

    /// <summary>Names of the keys Secrets are encrypted with, the first encrypting (config secretsEncryptionKeys).</summary>
    public required IReadOnlyList<string> SecretsEncryptionKeys { get; init; }

    /// <summary>
    /// The CAs and service-account key of a stack whose PKI was made with openssl: kept, and no
    /// CA or service-account key is made (config legacyPki).
    /// </summary>
    public LegacyPki? Legacy { get; init; }
}

/// <summary>
/// The cluster's certificate authorities and the credentials the program issues from them, made by
/// Pulumi's TLS provider and kept as secrets in the stack state: nothing runs on the machine that
/// runs `pulumi up`, and the etcd CA key never leaves the state (each etcd member is sent its own
/// certificate and key). Owning the CAs is what frees the cluster from kubeadm's 2-hour
/// certificate-key and 24-hour token windows, and from a special first node.
///
/// Leaf certificates renew themselves: the TLS provider plans a replacement on any `pulumi up`
/// inside the renewal window (terraform-provider-tls internal/provider/common_cert.go,
/// modifyPlanIfCertificateReadyForRenewal), and the steps that carry them run again.
/// </summary>
public sealed class ClusterPki : ComponentResource
{
    /// <summary>Ten years: a CA is not renewed in place (every node and kubeconfig trusts it).</summary>
    public const int CaValidityHours = 10 * 365 * 24;

    /// <summary>A year, as kubeadm gives its own leaf certificates.</summary>
    public const int LeafValidityHours = 365 * 24;

    /// <summary>The operator's kubeconfig lasts 90 days: a copy that leaks expires soon.</summary>
    public const int OperatorValidityHours = 90 * 24;

    /// <summary>Any `pulumi up` in a leaf's last 60 days renews it; the health gate warns at 30.</summary>
    public const int RenewalWindowHours = 60 * 24;

    /// <summary>The operators' group (the certificate's O), not kubeadm's; RBAC binds the user, see <see cref="OperatorUser"/>.</summary>
    public const string OperatorGroup = "do-k8s-ha:operators";

    private static string[] CaUses => ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"];
    private static string[] ClientUses => ["digital_signature", "key_encipherment", "client_auth"];
    private static string[] PeerUses => ["digital_signature", "key_encipherment", "server_auth", "client_auth"];
    private static string[] ServingUses => ["digital_signature", "key_encipherment", "server_auth"];

    private readonly string _name;
    private readonly Dictionary<string, Output<EtcdMemberCredential>> _etcdMembers = [];
    private readonly Dictionary<string, Output<EtcdMemberCredential>> _etcdSnapshotClients = [];
    private readonly Dictionary<string, Output<KubeletServingCredential>> _kubeletServing = [];
    private readonly List<Output<string>> _validityEnds = [];

    public ClusterPki(string name, ClusterPkiArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterPki", name, options)
    {
        _name = name;
        var legacy = args.Legacy;
        var ca = legacy is null ? Authority("ca", "kubernetes") : Kept(legacy.CaCert, legacy.CaKey);
        var frontProxy = legacy is null ? Authority("front-proxy-ca", "front-proxy-ca") : Kept(legacy.FrontProxyCaCert, legacy.FrontProxyCaKey);
        var etcd = legacy is null ? Authority("etcd-ca", "etcd-ca") : Kept(legacy.EtcdCaCert, legacy.EtcdCaKey);
        // The API servers and metrics-server trust only this CA for a kubelet's serving certificate
        // (--kubelet-certificate-authority), and only the program signs with it, each node's for
        // that node's own name and address: a certificate from the CSR API (the cluster CA's, for
        // any address a node or a bootstrap token holder asks) is never trusted to be a kubelet.
        // A stack of any age gets it: no openssl-era PKI had one.
        var kubeletServing = Authority("kubelet-serving-ca", "kubelet-serving-ca");
        // The API servers verify every service-account token with this key: a new one would
        // invalidate the tokens a running cluster has issued, so it is kept as a CA's key is.
        var serviceAccount = legacy is null ? Key("sa", keep: true) : null;
        var serviceAccountKey = serviceAccount?.PrivateKeyPem ?? Output.CreateSecret(legacy!.ServiceAccountKey);
        var serviceAccountPublicKey = serviceAccount?.PublicKeyPem ?? Output.Create(legacy!.ServiceAccountPublicKey);
        var etcdClient = Issue("apiserver-etcd-client", etcd, "kube-apiserver-etcd-client", null, ClientUses, LeafValidityHours);
        // kubeadm binds kubeadm:cluster-admins to cluster-admin: the program's own identity, used in
        // its steps and by its Kubernetes provider. system:masters stays break-glass.
        var admin = Issue("admin", ca, "kubernetes-admin", "kubeadm:cluster-admins", ClientUses, LeafValidityHours);
        // The user name carries the key's fingerprint, and only that user is bound to cluster-admin:
        // a new operator key (pulumi up --replace, docs/certificates.md) revokes every copy of the
        // old kubeconfig at once, while a renewal (same key) changes nothing for the operators.
        var operatorKey = Key("operator");
        OperatorUser = operatorKey.PublicKeyPem.Apply(pem =>
            "do-k8s-ha-operator-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(pem.Trim())))[..12].ToLowerInvariant());
        var operatorCert = Issue("operator", ca, OperatorUser, OperatorGroup, ClientUses, OperatorValidityHours, key: operatorKey);
        OperatorExpires = operatorCert.Expires!;

        Material = Output.CreateSecret(Output.All(
            ca.Cert, ca.Key, frontProxy.Cert, frontProxy.Key, etcd.Cert, etcd.Key,
            etcdClient.Cert, etcdClient.Key, admin.Cert, admin.Key, operatorCert.Cert, operatorCert.Key,
            serviceAccountKey, serviceAccountPublicKey, kubeletServing.Cert).Apply(p => new ClusterPkiMaterial
            {
                CaCert = p[0],
                CaKey = p[1],
                FrontProxyCaCert = p[2],
                FrontProxyCaKey = p[3],
                EtcdCaCert = p[4],
                EtcdCaKey = p[5],
                ApiServerEtcdClientCert = p[6],
                ApiServerEtcdClientKey = p[7],
                AdminCert = p[8],
                AdminKey = p[9],
                OperatorCert = p[10],
                OperatorKey = p[11],
                ServiceAccountKey = p[12],
                ServiceAccountPublicKey = p[13],
                KubeletServingCaCert = p[14],
                CaCertHash = ClusterPkiMaterial.DiscoveryHash(p[0]),
            }));

        foreach (var (member, ip) in args.EtcdMembers)
        {
            // "<node>.etcd-member": a "." never occurs in the fixed names above, nor in a node name.
            // One common name for every member: peers accept only it (etcd.conf.yml allowed-cn);
            // the node's name and address are in the SANs.
            var credential = Issue($"{member}.etcd-member", etcd, Render.EtcdMemberCommonName, null, PeerUses, LeafValidityHours,
                dnsNames: [member, "localhost"], ipAddresses: [ip, "127.0.0.1"]);
            _etcdMembers[member] = Output.CreateSecret(Output.Tuple(credential.Cert, credential.Key)
                .Apply(t => new EtcdMemberCredential(t.Item1, t.Item2)));
            // The snapshots' own client: a leaked one is cut off by replacing it, not the member's.
            var snapshots = Issue($"{member}.etcd-snapshot", etcd, Render.EtcdSnapshotCommonName, null, ClientUses, LeafValidityHours);
            _etcdSnapshotClients[member] = Output.CreateSecret(Output.Tuple(snapshots.Cert, snapshots.Key)
                .Apply(t => new EtcdMemberCredential(t.Item1, t.Item2)));
        }

        foreach (var (node, ip) in args.KubeletNodes)
        {
            // What the kubelet would ask the CSR API for (kubernetes.io/kubelet-serving: O
            // system:nodes, CN system:node:<name>), but bound here: its own name and its VPC
            // address, the one the API servers and metrics-server dial (InternalIP first, the
            // kubelet's node-ip), and nothing else. "<node>.kubelet-serving", as etcd's members.
            var credential = Issue($"{node}.kubelet-serving", kubeletServing, $"system:node:{node}", "system:nodes", ServingUses, LeafValidityHours,
                dnsNames: [node], ipAddresses: [ip]);
            _kubeletServing[node] = Output.CreateSecret(Output.Tuple(kubeletServing.Cert, credential.Cert, credential.Key)
                .Apply(t => new KubeletServingCredential(t.Item1, t.Item2, t.Item3)));
        }
        KubeletServingCaCert = kubeletServing.Cert;

        // The TLS provider is the program's source of secret randomness kept in the state: each
        // encryption key is derived from a private key of its own (HKDF-SHA256 of its PKCS #8
        // bytes), made once and never replaced, so a key stays the same for as long as it is listed.
        SecretsEncryptionKeys = Output.CreateSecret(Output.All(args.SecretsEncryptionKeys.Select(keyName =>
        {
            var seed = new Tls.PrivateKey($"{_name}-encryption-{keyName}", new Tls.PrivateKeyArgs { Algorithm = "ECDSA", EcdsaCurve = "P256" },
                new CustomResourceOptions { Parent = this, IgnoreChanges = ["algorithm", "ecdsaCurve"], Protect = true });
            return seed.PrivateKeyPemPkcs8.Apply(pem => new SecretsEncryptionKey(keyName, DeriveEncryptionKey(keyName, pem)));
        })).Apply(keys => (IReadOnlyList<SecretsEncryptionKey>)[.. keys]));

        Renewals = Output.All(_validityEnds).Apply(ends => string.Join(",", ends));
        RegisterOutputs(new Dictionary<string, object?> { ["caCertificate"] = ca.Cert, ["renewals"] = Renewals });
    }

    /// <summary>Secret: the CA keys and the credentials issued from them.</summary>
    public Output<ClusterPkiMaterial> Material { get; }

    /// <summary>The CA every kubelet's serving certificate is signed by, and the only one trusted for them.</summary>
    public Output<string> KubeletServingCaCert { get; }

    /// <summary>When each leaf certificate expires: it changes when one is renewed.</summary>
    public Output<string> Renewals { get; }

    /// <summary>The exported kubeconfig's user, the only operator bound to cluster-admin.</summary>
    public Output<string> OperatorUser { get; }

    /// <summary>When the exported kubeconfig's certificate expires (RFC 3339).</summary>
    public Output<string> OperatorExpires { get; }

    /// <summary>Secret: the keys Secrets are encrypted with in etcd, in the configured order.</summary>
    public Output<IReadOnlyList<SecretsEncryptionKey>> SecretsEncryptionKeys { get; }

    /// <summary>32 bytes for secretbox, base64: HKDF-SHA256 of the seed key's PKCS #8 bytes, bound to the key's name.</summary>
    public static string DeriveEncryptionKey(string name, string seedPkcs8Pem)
    {
        var seed = System.Security.Cryptography.PemEncoding.Find(seedPkcs8Pem);
        var der = Convert.FromBase64String(seedPkcs8Pem[seed.Base64Data]);
        var key = System.Security.Cryptography.HKDF.DeriveKey(System.Security.Cryptography.HashAlgorithmName.SHA256, der, 32,
            info: System.Text.Encoding.UTF8.GetBytes($"do-k8s-ha secrets encryption {name}"));
        return Convert.ToBase64String(key);
    }

    /// <summary>Secret: the etcd member's certificate and key, and nothing else of the PKI.</summary>
    public Output<EtcdMemberCredential> EtcdMember(string node) => _etcdMembers[node];

    /// <summary>Secret: the client certificate and key an etcd node's snapshots are taken with.</summary>
    public Output<EtcdMemberCredential> EtcdSnapshotClient(string node) => _etcdSnapshotClients[node];

    /// <summary>Secret: a kubelet's serving certificate and key, with its CA's certificate, and nothing else of the PKI.</summary>
    public Output<KubeletServingCredential> KubeletServing(string node) => _kubeletServing[node];

    /// <summary>A certificate and its key; Expires for an issued (renewing) one, null for a CA.</summary>
    private sealed record Credential(Output<string> Cert, Output<string> Key, Output<string>? Expires = null);

    private Tls.PrivateKey Key(string what, bool keep = false)
    {
        // Its private forms are secret outputs already: pulumi-tls's SDK marks them (PrivateKey.MakeResourceOptions).
        var options = new CustomResourceOptions { Parent = this };
        if (keep)
        {
            options.IgnoreChanges = ["algorithm", "rsaBits", "ecdsaCurve"];
            // A CA's or the service-account key: `pulumi up --replace`, a targeted destroy or a
            // removal from the program is refused by the engine (ProtectedResources).
            options.Protect = true;
        }
        return new($"{_name}-{what}", new Tls.PrivateKeyArgs { Algorithm = "RSA", RsaBits = 2048 }, options);
    }

    /// <summary>A CA the stack already has (an openssl-era PKI): its key is a secret, as the TLS provider's are.</summary>
    private static Credential Kept(string cert, string key) => new(Output.Create(cert), Output.CreateSecret(key));

    /// <summary>
    /// A CA made again would orphan every node and kubeconfig: a later version of this program that
    /// asks for it differently keeps the one it has (ignoreChanges). It lasts CaValidityHours.
    /// </summary>
    private Credential Authority(string what, string commonName)
    {
        var key = Key(what, keep: true);
        var cert = new Tls.SelfSignedCert($"{_name}-{what}", new Tls.SelfSignedCertArgs
        {
            PrivateKeyPem = key.PrivateKeyPem,
            Subject = new Tls.Inputs.SelfSignedCertSubjectArgs { CommonName = commonName },
            // No setSubjectKeyId: Go's x509.CreateCertificate gives every CA a subject key id of
            // its own (crypto/x509/x509.go), which the leaves' authority key ids name.
            IsCaCertificate = true,
            ValidityPeriodHours = CaValidityHours,
            AllowedUses = CaUses,
        }, new CustomResourceOptions
        {
            Parent = this,
            // Never made again: not by `--replace`, a targeted destroy, nor the TLS provider when the
            // CA reaches its end (it plans a replacement then): the engine refuses each, loudly.
            Protect = true,
            // Every input, setSubjectKeyId too (older releases set it, and its absence is a change).
            IgnoreChanges = ["privateKeyPem", "subject", "isCaCertificate", "setSubjectKeyId", "validityPeriodHours", "earlyRenewalHours", "allowedUses", "dnsNames", "ipAddresses", "uris"],
        });
        return new(cert.CertPem, key.PrivateKeyPem);
    }

    private Credential Issue(string what, Credential authority, Input<string> commonName, string? organization, string[] uses, int validityHours,
        IReadOnlyList<string>? dnsNames = null, IReadOnlyList<Input<string>>? ipAddresses = null, Tls.PrivateKey? key = null)
    {
        key ??= Key(what);
        var request = new Tls.CertRequest($"{_name}-{what}", new Tls.CertRequestArgs
        {
            PrivateKeyPem = key.PrivateKeyPem,
            Subject = new Tls.Inputs.CertRequestSubjectArgs { CommonName = commonName, Organization = organization! },
            DnsNames = [.. dnsNames ?? []],
            IpAddresses = [.. ipAddresses ?? []],
        }, new CustomResourceOptions { Parent = this });
        var cert = new Tls.LocallySignedCert($"{_name}-{what}", new Tls.LocallySignedCertArgs
        {
            CertRequestPem = request.CertRequestPem,
            CaCertPem = authority.Cert,
            CaPrivateKeyPem = authority.Key,
            ValidityPeriodHours = validityHours,
            EarlyRenewalHours = RenewalWindowHours,
            AllowedUses = uses,
        }, new CustomResourceOptions { Parent = this });
        _validityEnds.Add(cert.ValidityEndTime);
        return new(cert.CertPem, key.PrivateKeyPem, cert.ValidityEndTime);
    }
}
