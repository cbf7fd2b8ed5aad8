using DoK8sHa.Config;

namespace DoK8sHa.Tests;

public class CidrTests
{
    private static Cidr C(string text)
    {
        Assert.That(Cidr.TryParse(text, out var cidr), Is.True, text);
        return cidr;
    }

    [TestCase("10.0.0.0/8", "10.1.0.0/16", true)]
    [TestCase("10.1.0.0/16", "10.0.0.0/8", true)]
    [TestCase("10.240.0.0/20", "10.240.16.0/20", false)]
    [TestCase("10.233.0.0/18", "10.233.64.0/18", false)]
    [TestCase("10.233.0.0/17", "10.233.64.0/18", true)]
    [TestCase("10.0.0.0/8", "fd00::/8", false)]
    public void Overlaps(string a, string b, bool expected) =>
        Assert.That(C(a).Overlaps(C(b)), Is.EqualTo(expected));

    [TestCase("10.240.0.0/20", true)]
    [TestCase("172.16.0.0/12", true)]
    [TestCase("172.32.0.0/16", false)]
    [TestCase("192.168.10.0/24", true)]
    [TestCase("100.64.0.0/16", false)]
    public void Rfc1918(string text, bool expected) => Assert.That(C(text).IsRfc1918, Is.EqualTo(expected));

    [Test]
    public void HostBitsAreRejected() => Assert.That(Cidr.TryParse("10.0.0.1/8", out _), Is.False);

    [Test]
    public void AddressAt() => Assert.That(C("10.240.0.0/20").AddressAt(258).ToString(), Is.EqualTo("10.240.1.2"));

    // Killing what mutation testing left alive (docs/testing.md, "Mutation testing"): addresses whose first
    // bit is set (read as unsigned numbers), IPv6, and prefixes past the family's width.
    [TestCase("192.168.0.0/16", 10, "192.168.0.10")]
    [TestCase("172.16.0.0/12", 256, "172.16.1.0")]
    [TestCase("fd00::/64", 257, "fd00::101")]
    public void AddressAtReadsAddressesAsUnsigned(string network, int n, string expected) =>
        Assert.That(C(network).AddressAt(n).ToString(), Is.EqualTo(expected));

    [TestCase("10.0.0.0/33")]
    [TestCase("fd00::/129")]
    [TestCase("fd00::1/64")]
    [TestCase("192.168.0.1/16")]
    [TestCase("255.255.255.255/31")]
    public void APrefixPastTheFamilysWidthOrHostBitsAreRejected(string text) => Assert.That(Cidr.TryParse(text, out _), Is.False);

    [TestCase("fd00::/48", "fd00:0:0:1::/64", true)]
    [TestCase("fd00::/64", "fd00:0:0:1::/64", false)]
    [TestCase("192.168.0.0/17", "192.168.128.0/17", false)]
    [TestCase("192.168.0.0/16", "192.168.128.0/17", true)]
    public void OverlapsOverTheWholeWidth(string a, string b, bool expected) =>
        Assert.That(C(a).Overlaps(C(b)), Is.EqualTo(expected));

    [TestCase("255.255.255.254/31", true)]
    [TestCase("fd00::/64", true)]
    public void NetworksWhoseFirstBitIsSetParse(string text, bool expected) => Assert.That(Cidr.TryParse(text, out _), Is.EqualTo(expected));
}
