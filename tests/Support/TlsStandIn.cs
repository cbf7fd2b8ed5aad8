using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// Pulumi's TLS provider under the mocks (pulumi-tls bridges hashicorp/terraform-provider-tls):
/// real keys, requests and certificates, made the way its resources make them, so scripts that
/// verify chains, names and key usages test something. What the program relies on, with the file
/// of terraform-provider-tls (internal/provider) that does it:
/// - private_key: RSA of rsa_bits; private_key_pem is PKCS#1, public_key_pem PKIX (resource_private_key.go, common_key.go);
///   ECDSA on P256 with private_key_pem SEC 1, and private_key_openssh / public_key_openssh as
///   golang.org/x/crypto/ssh writes them (common_key.go: ssh.MarshalPrivateKey, ssh.MarshalAuthorizedKey);
/// - cert_request: the subject, dns_names and ip_addresses go into the CSR (resource_cert_request.go);
/// - self_signed_cert / locally_signed_cert: subject and SANs from the key or CSR, validity from
///   now for validity_period_hours, key usages and extended key usages from allowed_uses, CA
///   basic constraints from is_ca_certificate (common_cert.go createCertificate, types.go);
/// - allowed_uses: each value one of the provider's key usages and extended key usages, or the
///   plan is refused (resource_self_signed_cert.go, resource_locally_signed_cert.go:
///   listvalidator.ValuesAre(stringvalidator.OneOf(supportedKeyUsagesStr()...)); common_cert.go);
/// - a CA certificate with an empty subject is refused ("Must contain at least one Distinguished
///   Name when creating Certificate Authority", common_cert.go createCertificate);
/// - ready_for_renewal: a plan at or after validity_end_time − early_renewal_hours replaces the
///   certificate (common_cert.go modifyPlanIfCertificateReadyForRenewal). Between runs the state
///   keeps a certificate unless that is so, or its inputs changed.
/// Keys are kept per resource name for the test run, as the state keeps them between updates.
/// </summary>
public sealed class TlsStandIn
{
    private static readonly ConcurrentDictionary<string, RSA> Keys = new();
    private static readonly ConcurrentDictionary<string, Dictionary<string, string>> EcKeys = new();
    private readonly ConcurrentDictionary<string, (string Inputs, ImmutableDictionary<string, object> Outputs)> _state = new();

    /// <summary>The clock the provider plans with.</summary>
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

    /// <summary>Certificates issued anew (renewed, or with changed inputs) in this stand-in's life, by resource name.</summary>
    public ConcurrentDictionary<string, int> Issued { get; } = new();

    public static bool Handles(string type) => type.StartsWith("tls:index/", StringComparison.Ordinal);

    public ImmutableDictionary<string, object> Outputs(string type, string name, ImmutableDictionary<string, object> inputs)
    {
        var outputs = inputs.ToBuilder();
        switch (type)
        {
            case "tls:index/privateKey:PrivateKey" when Text(inputs, "algorithm") == "ECDSA":
                if (Text(inputs, "ecdsaCurve") != "P256")
                {
                    throw new NotSupportedException($"{name}: the stand-in makes ECDSA keys on P256 only");
                }
                // Made once per name and kept, as the state keeps them (the OpenSSH form has random check bytes).
                var ec = EcKeys.GetOrAdd(name, _ =>
                {
                    using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                    return new Dictionary<string, string>
                    {
                        ["privateKeyPem"] = key.ExportECPrivateKeyPem() + "\n",
                        ["privateKeyPemPkcs8"] = key.ExportPkcs8PrivateKeyPem() + "\n",
                        ["publicKeyPem"] = key.ExportSubjectPublicKeyInfoPem() + "\n",
                        ["privateKeyOpenssh"] = OpenSsh.PrivateKey(key),
                        ["publicKeyOpenssh"] = OpenSsh.PublicKey(key),
                    };
                });
                foreach (var (output, value) in ec)
                {
                    outputs[output] = value;
                }
                break;
            case "tls:index/privateKey:PrivateKey":
                var rsa = Keys.GetOrAdd(name, _ => RSA.Create(inputs.TryGetValue("rsaBits", out var bits) ? Convert.ToInt32(bits, System.Globalization.CultureInfo.InvariantCulture) : 2048));
                outputs["privateKeyPem"] = rsa.ExportRSAPrivateKeyPem() + "\n";
                outputs["privateKeyPemPkcs8"] = rsa.ExportPkcs8PrivateKeyPem() + "\n";
                outputs["publicKeyPem"] = rsa.ExportSubjectPublicKeyInfoPem() + "\n";
                break;
            case "tls:index/certRequest:CertRequest":
                if (Text(inputs, "privateKeyPem") is { } requestKey)
                {
                    using var key = RSA.Create();
                    key.ImportFromPem(requestKey);
                    var request = new CertificateRequest(Subject(inputs), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                    AddNames(request, inputs);
                    outputs["certRequestPem"] = request.CreateSigningRequestPem() + "\n";
                }
                break;
            case "tls:index/selfSignedCert:SelfSignedCert":
            case "tls:index/locallySignedCert:LocallySignedCert":
                var known = type.EndsWith("SelfSignedCert", StringComparison.Ordinal)
                    ? Text(inputs, "privateKeyPem") is not null
                    : Text(inputs, "certRequestPem") is not null && Text(inputs, "caPrivateKeyPem") is not null && Text(inputs, "caCertPem") is not null;
                if (known)
                {
                    var fingerprint = string.Join("\n", inputs.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => $"{i.Key}={Flatten(i.Value)}"));
                    if (_state.TryGetValue(name, out var kept) && kept.Inputs == fingerprint && !ReadyForRenewal(kept.Outputs) && RenewalWindowOpen?.Invoke(name) != true)
                    {
                        return kept.Outputs;
                    }
                    var issued = Issue(type, inputs, outputs);
                    _state[name] = (fingerprint, issued);
                    Issued.AddOrUpdate(name, 1, (_, n) => n + 1);
                    return issued;
                }
                break;
        }
        return outputs.ToImmutable();
    }

    /// <summary>
    /// Certificates a test has reach their renewal window now, without moving <see cref="Now"/>:
    /// on test droplets a certificate issued in the future would not be valid yet.
    /// </summary>
    public Func<string, bool>? RenewalWindowOpen { get; set; }

    /// <summary>common_cert.go modifyPlanIfCertificateReadyForRenewal: now ≥ validity_end_time − early_renewal_hours.</summary>
    private bool ReadyForRenewal(ImmutableDictionary<string, object> outputs)
    {
        var end = DateTimeOffset.Parse((string)outputs["validityEndTime"], System.Globalization.CultureInfo.InvariantCulture);
        var early = outputs.TryGetValue("earlyRenewalHours", out var h) ? Convert.ToInt32(h, System.Globalization.CultureInfo.InvariantCulture) : 0;
        return end.AddHours(-early) <= Now;
    }

    /// <summary>common_cert.go keyUsages: the allowed_uses that are key usages.</summary>
    private static readonly Dictionary<string, X509KeyUsageFlags> KeyUsages = new(StringComparer.Ordinal)
    {
        ["digital_signature"] = X509KeyUsageFlags.DigitalSignature,
        ["content_commitment"] = X509KeyUsageFlags.NonRepudiation,
        ["key_encipherment"] = X509KeyUsageFlags.KeyEncipherment,
        ["data_encipherment"] = X509KeyUsageFlags.DataEncipherment,
        ["key_agreement"] = X509KeyUsageFlags.KeyAgreement,
        ["cert_signing"] = X509KeyUsageFlags.KeyCertSign,
        ["crl_signing"] = X509KeyUsageFlags.CrlSign,
        ["encipher_only"] = X509KeyUsageFlags.EncipherOnly,
        ["decipher_only"] = X509KeyUsageFlags.DecipherOnly,
    };

    /// <summary>common_cert.go extendedKeyUsages: the allowed_uses that are extended key usages, by OID (crypto/x509/x509.go extKeyUsageOIDs).</summary>
    private static readonly Dictionary<string, string> ExtendedKeyUsages = new(StringComparer.Ordinal)
    {
        ["any_extended"] = "2.5.29.37.0",
        ["server_auth"] = "1.3.6.1.5.5.7.3.1",
        ["client_auth"] = "1.3.6.1.5.5.7.3.2",
        ["code_signing"] = "1.3.6.1.5.5.7.3.3",
        ["email_protection"] = "1.3.6.1.5.5.7.3.4",
        ["ipsec_end_system"] = "1.3.6.1.5.5.7.3.5",
        ["ipsec_tunnel"] = "1.3.6.1.5.5.7.3.6",
        ["ipsec_user"] = "1.3.6.1.5.5.7.3.7",
        ["timestamping"] = "1.3.6.1.5.5.7.3.8",
        ["ocsp_signing"] = "1.3.6.1.5.5.7.3.9",
        ["microsoft_server_gated_crypto"] = "1.3.6.1.4.1.311.10.3.3",
        ["netscape_server_gated_crypto"] = "2.16.840.1.113730.4.1",
        ["microsoft_commercial_code_signing"] = "1.3.6.1.4.1.311.2.1.22",
        ["microsoft_kernel_code_signing"] = "1.3.6.1.4.1.311.61.1.1",
    };

    private ImmutableDictionary<string, object> Issue(string type, ImmutableDictionary<string, object> inputs, ImmutableDictionary<string, object>.Builder outputs)
    {
        var hours = Convert.ToInt32(inputs["validityPeriodHours"], System.Globalization.CultureInfo.InvariantCulture);
        var notBefore = Now;
        var notAfter = Now.AddHours(hours);
        var isCa = inputs.TryGetValue("isCaCertificate", out var ca) && ca is true;
        // The resources' allowed_uses validator: each value one of the two maps (supportedKeyUsagesStr).
        if (List(inputs, "allowedUses").FirstOrDefault(use => !KeyUsages.ContainsKey(use) && !ExtendedKeyUsages.ContainsKey(use)) is { } unsupported)
        {
            throw new ArgumentException($"allowed_uses: '{unsupported}' is not one of the provider's key usages");
        }
        if (isCa && Subject(inputs).RawData.Length <= 2)
        {
            throw new ArgumentException("Invalid Certificate Subject: Must contain at least one Distinguished Name when creating Certificate Authority (CA)");
        }
        X509Certificate2 cert;
        if (type.EndsWith("SelfSignedCert", StringComparison.Ordinal))
        {
            using var key = RSA.Create();
            key.ImportFromPem(Text(inputs, "privateKeyPem")!);
            var request = new CertificateRequest(Subject(inputs), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            AddNames(request, inputs);
            AddUses(request, inputs, isCa);
            cert = request.CreateSelfSigned(notBefore, notAfter);
        }
        else
        {
            var request = CertificateRequest.LoadSigningRequestPem(Text(inputs, "certRequestPem")!, HashAlgorithmName.SHA256,
                CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions, RSASignaturePadding.Pkcs1);
            AddUses(request, inputs, isCa);
            using var issuerKey = RSA.Create();
            issuerKey.ImportFromPem(Text(inputs, "caPrivateKeyPem")!);
            using var issuer = X509Certificate2.CreateFromPem(Text(inputs, "caCertPem")!);
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7f;
            cert = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pkcs1), notBefore, notAfter, serial);
        }
        using (cert)
        {
            outputs["certPem"] = cert.ExportCertificatePem() + "\n";
        }
        outputs["validityStartTime"] = notBefore.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        outputs["validityEndTime"] = notAfter.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        outputs["readyForRenewal"] = false;
        return outputs.ToImmutable();
    }

    private static X500DistinguishedName Subject(ImmutableDictionary<string, object> inputs)
    {
        var subject = inputs.TryGetValue("subject", out var s) && s is IDictionary<string, object> d ? d : new Dictionary<string, object>();
        var name = new X500DistinguishedNameBuilder();
        // Go's pkix.Name.ToRDNSequence puts O before CN; the builder encodes in reverse order of adding.
        if (subject.TryGetValue("commonName", out var cn) && cn is string common)
        {
            name.AddCommonName(common);
        }
        if (subject.TryGetValue("organization", out var o) && o is string org && org.Length > 0)
        {
            name.AddOrganizationName(org);
        }
        return name.Build();
    }

    private static void AddNames(CertificateRequest request, ImmutableDictionary<string, object> inputs)
    {
        var sans = new SubjectAlternativeNameBuilder();
        var any = false;
        foreach (var dns in List(inputs, "dnsNames"))
        {
            sans.AddDnsName(dns);
            any = true;
        }
        foreach (var ip in List(inputs, "ipAddresses"))
        {
            sans.AddIpAddress(IPAddress.Parse(ip));
            any = true;
        }
        if (any)
        {
            request.CertificateExtensions.Add(sans.Build());
        }
    }

    /// <summary>types.go: allowed_uses → key usage and extended key usage; basic constraints always, critical.</summary>
    private static void AddUses(CertificateRequest request, ImmutableDictionary<string, object> inputs, bool isCa)
    {
        // createCertificate: each use sets its key usage bit or appends its extended key usage, in order.
        var uses = List(inputs, "allowedUses").ToList();
        var usage = uses.Where(KeyUsages.ContainsKey).Aggregate(X509KeyUsageFlags.None, (all, use) => all | KeyUsages[use]);
        var extended = new OidCollection();
        foreach (var use in uses.Where(ExtendedKeyUsages.ContainsKey))
        {
            extended.Add(new Oid(ExtendedKeyUsages[use]));
        }
        foreach (var existing in request.CertificateExtensions.Where(e => e is X509KeyUsageExtension or X509EnhancedKeyUsageExtension or X509BasicConstraintsExtension).ToList())
        {
            request.CertificateExtensions.Remove(existing);
        }
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));
        if (extended.Count > 0)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(extended, critical: false));
        }
        // Go's x509.CreateCertificate makes a CA's SubjectKeyId from its public key when the
        // template has none (crypto/x509/x509.go), whatever set_subject_key_id says.
        if (isCa)
        {
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        }
    }

    private static string? Text(ImmutableDictionary<string, object> inputs, string key) =>
        inputs.TryGetValue(key, out var v) && v is string s && s.Length > 0 && s != ClusterMocks.Unknown ? s : null;

    private static IEnumerable<string> List(ImmutableDictionary<string, object> inputs, string key) =>
        inputs.TryGetValue(key, out var v) && v is IEnumerable e and not string ? e.Cast<object>().Select(x => x.ToString()!) : [];

    private static string Flatten(object? value) => value switch
    {
        string s => s,
        IDictionary<string, object> d => "{" + string.Join(",", d.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}:{Flatten(p.Value)}")) + "}",
        IEnumerable e => "[" + string.Join(",", e.Cast<object>().Select(Flatten)) + "]",
        _ => value?.ToString() ?? "",
    };
}
