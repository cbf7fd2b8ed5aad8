using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// OpenSSH encodings of an ECDSA P-256 key, byte for byte as golang.org/x/crypto/ssh makes them
/// for the TLS provider (keys.go: MarshalAuthorizedKey, MarshalPrivateKey, unencrypted, with
/// generateOpenSSHPadding): sshd and ssh-keygen read what this writes.
/// </summary>
public static class OpenSsh
{
    private const string KeyType = "ecdsa-sha2-nistp256";

    /// <summary>"ecdsa-sha2-nistp256 AAAA…\n", the authorized_keys line (no comment).</summary>
    public static string PublicKey(ECDsa key) => $"{KeyType} {Convert.ToBase64String(PublicBlob(key))}\n";

    /// <summary>"-----BEGIN OPENSSH PRIVATE KEY-----" in the openssh-key-v1 format, no cipher, no comment.</summary>
    public static string PrivateKey(ECDsa key)
    {
        var p = key.ExportParameters(includePrivateParameters: true);
        var check = RandomNumberGenerator.GetBytes(4);
        var block = new MemoryStream();
        block.Write(check);
        block.Write(check);
        String(block, Encoding.ASCII.GetBytes(KeyType));
        String(block, "nistp256"u8);
        String(block, Point(p.Q));
        String(block, Mpint(p.D!));
        String(block, []);
        // Padding 1, 2, 3, … to the cipher's block size, 8 for "none".
        for (byte pad = 1; block.Length % 8 != 0; pad++)
        {
            block.WriteByte(pad);
        }

        var body = new MemoryStream();
        body.Write("openssh-key-v1\0"u8);
        String(body, "none"u8);
        String(body, "none"u8);
        String(body, []);
        Uint32(body, 1);
        String(body, PublicBlob(key));
        String(body, block.ToArray());
        return PemEncoding.WriteString("OPENSSH PRIVATE KEY", body.ToArray()) + "\n";
    }

    private static byte[] PublicBlob(ECDsa key)
    {
        var blob = new MemoryStream();
        String(blob, Encoding.ASCII.GetBytes(KeyType));
        String(blob, "nistp256"u8);
        String(blob, Point(key.ExportParameters(includePrivateParameters: false).Q));
        return blob.ToArray();
    }

    private static byte[] Point(ECPoint q) => [0x04, .. q.X!, .. q.Y!];

    /// <summary>RFC 4251 mpint: big-endian two's complement, shortest form.</summary>
    private static byte[] Mpint(byte[] unsignedBigEndian) =>
        new BigInteger(unsignedBigEndian, isUnsigned: true, isBigEndian: true).ToByteArray(isUnsigned: false, isBigEndian: true);

    private static void String(Stream to, ReadOnlySpan<byte> value)
    {
        Uint32(to, (uint)value.Length);
        to.Write(value);
    }

    private static void Uint32(Stream to, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        to.Write(b);
    }
}
