using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>The mocks' TLS provider refuses what terraform-provider-tls refuses, and issues what it is asked for.</summary>
public class TlsStandInTests
{
    private static ImmutableDictionary<string, object> SelfSigned(TlsStandIn tls, string commonName, bool isCa, params string[] uses)
    {
        var key = tls.Outputs("tls:index/privateKey:PrivateKey", "tls-standin-test-key", ImmutableDictionary<string, object>.Empty.Add("algorithm", "RSA").Add("rsaBits", 2048));
        var subject = commonName.Length > 0 ? new Dictionary<string, object> { ["commonName"] = commonName } : new Dictionary<string, object>();
        return tls.Outputs("tls:index/selfSignedCert:SelfSignedCert", $"tls-standin-test-{commonName}-{string.Join("-", uses)}", ImmutableDictionary<string, object>.Empty
            .Add("privateKeyPem", key["privateKeyPem"])
            .Add("subject", subject)
            .Add("isCaCertificate", isCa)
            .Add("validityPeriodHours", 1)
            .Add("allowedUses", uses.ToImmutableArray()));
    }

    [TestCase("")]
    [TestCase("signing")]
    [TestCase("Digital_Signature")]
    public void AUseTheProviderDoesNotKnowIsRefused(string use)
    {
        var error = Assert.Throws<ArgumentException>(() => SelfSigned(new TlsStandIn(), "ca", true, "cert_signing", use))!;
        Assert.That(error.Message, Does.Contain($"'{use}' is not one of the provider's key usages"));
    }

    [Test]
    public void ACaWithoutASubjectIsRefusedAndALeafIsNot()
    {
        var error = Assert.Throws<ArgumentException>(() => SelfSigned(new TlsStandIn(), "", true, "cert_signing"))!;
        Assert.That(error.Message, Does.Contain("at least one Distinguished Name"));
        Assert.That(SelfSigned(new TlsStandIn(), "", false, "client_auth")["certPem"], Does.StartWith("-----BEGIN CERTIFICATE-----"));
    }

    [Test]
    public void ACertificateCarriesTheUsesItWasAskedFor()
    {
        using var cert = X509Certificate2.CreateFromPem((string)SelfSigned(new TlsStandIn(), "uses", false, "digital_signature", "key_encipherment", "client_auth")["certPem"]);

        Assert.That(cert.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages, Is.EqualTo(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment));
        Assert.That(cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value), Is.EqualTo(new[] { "1.3.6.1.5.5.7.3.2" }));
    }
}
