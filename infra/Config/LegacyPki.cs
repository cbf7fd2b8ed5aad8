using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace DoK8sHa.Config;

/// <summary>
/// The certificate authorities and service-account key of a stack made by a release of this
/// program that generated them with openssl on the operator's machine (the `pki-generate` local
/// command). Given back as config (`legacyPki`, docs/certificates.md "Upgrading from an openssl PKI"), they are
/// kept: the TLS provider then issues every leaf from them, and makes no CA or service-account key
/// of its own, so nothing on the running cluster is re-keyed and no token it issued breaks.
/// </summary>
public sealed record LegacyPki(
    string CaCert,
    string CaKey,
    string FrontProxyCaCert,
    string FrontProxyCaKey,
    string EtcdCaCert,
    string EtcdCaKey,
    string ServiceAccountKey,
    string ServiceAccountPublicKey)
{
    public const string Key = "legacyPki";

    /// <summary>
    /// Reads the old step's output as the state holds it: one "file base64-of-the-file" per line
    /// (cluster-pki.sh); the bearer token and leaf credentials in it are not used. Each CA key must
    /// belong to its certificate.
    /// </summary>
    public static LegacyPki? Parse(string? text, Action<string, string, string> problem)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        const string fix = "set it to the old `pki-generate` step's stdout (docs/certificates.md \"Upgrading from an openssl PKI\")";
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            // Files only (ca.crt, sa.key, sa.pub…): the hash and the token lines are not base64.
            if (space <= 0 || !(line[..space].EndsWith(".crt", StringComparison.Ordinal) || line[..space].EndsWith(".key", StringComparison.Ordinal) || line[..space].EndsWith(".pub", StringComparison.Ordinal)))
            {
                continue;
            }
            try
            {
                files[line[..space]] = Encoding.UTF8.GetString(Convert.FromBase64String(line[(space + 1)..])).TrimEnd('\n') + "\n";
            }
            catch (FormatException)
            {
                problem(Key, $"the value of {line[..space]} is not base64", fix);
            }
        }
        string File(string name)
        {
            if (files.TryGetValue(name, out var pem))
            {
                return pem;
            }
            problem(Key, $"has no {name}", fix);
            return "";
        }
        var legacy = new LegacyPki(
            File("ca.crt"), File("ca.key"), File("front-proxy-ca.crt"), File("front-proxy-ca.key"),
            File("etcd-ca.crt"), File("etcd-ca.key"), File("sa.key"), File("sa.pub"));
        foreach (var (cert, key, what) in new[] { (legacy.CaCert, legacy.CaKey, "ca"), (legacy.FrontProxyCaCert, legacy.FrontProxyCaKey, "front-proxy-ca"), (legacy.EtcdCaCert, legacy.EtcdCaKey, "etcd-ca") })
        {
            if (cert.Length > 0 && key.Length > 0 && !IsCaWithItsKey(cert, key))
            {
                problem(Key, $"{what}.crt is not a CA certificate of {what}.key", fix);
            }
        }
        return legacy;
    }

    private static bool IsCaWithItsKey(string certPem, string keyPem)
    {
        try
        {
            using var cert = X509Certificate2.CreateFromPem(certPem, keyPem);
            return cert.HasPrivateKey && cert.Extensions.OfType<X509BasicConstraintsExtension>().Any(c => c.CertificateAuthority);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
