using System.Net;
using System.Net.Sockets;
using System.Numerics;

namespace DoK8sHa.Config;

/// <summary>An IPv4 or IPv6 network in CIDR notation, normalised to its network address.</summary>
public sealed partial record Cidr(IPAddress Network, int PrefixLength)
{
    [System.Text.RegularExpressions.GeneratedRegex(@"\A(0|[1-9][0-9]{0,2})\z")]
    private static partial System.Text.RegularExpressions.Regex DecimalOctet();

    public AddressFamily Family => Network.AddressFamily;

    private int Bits => Family == AddressFamily.InterNetwork ? 32 : 128;

    public override string ToString() => $"{Network}/{PrefixLength}";

    /// <summary>Strict: a full address (four decimal octets for IPv4), a prefix in range, no host bits set.</summary>
    public static bool TryParse(string? text, out Cidr cidr)
    {
        cidr = null!;
        var parts = text?.Trim().Split('/');
        if (parts is not { Length: 2 } || !IPAddress.TryParse(parts[0], out var address)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix))
        {
            return false;
        }
        var ipv4 = address.AddressFamily == AddressFamily.InterNetwork;
        // Four decimal octets: .NET reads inet_aton's forms too, "010" as octal 8 and "0x7f" as hex,
        // which a reader of the config would take for something else.
        var octets = parts[0].Split('.');
        if ((ipv4 && (octets.Length != 4 || !octets.All(o => DecimalOctet().IsMatch(o)))) || prefix > (ipv4 ? 32 : 128))
        {
            return false;
        }
        var candidate = new Cidr(address, prefix);
        var bits = ipv4 ? 32 : 128;
        var value = new BigInteger(address.GetAddressBytes(), isUnsigned: true, isBigEndian: true);
        if (prefix < bits && value != (value >> (bits - prefix)) << (bits - prefix))
        {
            return false;
        }
        cidr = candidate;
        return true;
    }

    public bool Overlaps(Cidr other)
    {
        if (Family != other.Family)
        {
            return false;
        }
        var shorter = Math.Min(PrefixLength, other.PrefixLength);
        return Prefix(Network, shorter, Bits) == Prefix(other.Network, shorter, Bits);
    }

    /// <summary>The address is in this range.</summary>
    public bool Contains(IPAddress address) =>
        address.AddressFamily == Family && Prefix(address, PrefixLength, Bits) == Prefix(Network, PrefixLength, Bits);

    /// <summary>RFC 1918 private IPv4 ranges, the only ones a DigitalOcean VPC accepts.</summary>
    public bool IsRfc1918 =>
        Family == AddressFamily.InterNetwork &&
        (Within("10.0.0.0/8") || Within("172.16.0.0/12") || Within("192.168.0.0/16"));

    private bool Within(string outer)
    {
        TryParse(outer, out var o);
        return PrefixLength >= o.PrefixLength && Overlaps(o);
    }

    /// <summary>The n-th address of this network (0 is the network address).</summary>
    public IPAddress AddressAt(int n)
    {
        var bytes = Network.GetAddressBytes();
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true) + n;
        var result = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[bytes.Length];
        Array.Copy(result, 0, padded, padded.Length - result.Length, result.Length);
        return new IPAddress(padded);
    }

    private static BigInteger Prefix(IPAddress address, int prefixLength, int bits)
    {
        var value = new BigInteger(address.GetAddressBytes(), isUnsigned: true, isBigEndian: true);
        return value >> (bits - prefixLength);
    }
}
