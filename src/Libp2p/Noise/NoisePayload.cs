using System.Buffers;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Noise;

/// <summary>
/// The libp2p handshake payload (noise.md): <c>NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2;
/// NoiseExtensions extensions = 4; }</c>. Extensions and unknown fields are skipped on decode.
/// </summary>
public sealed record NoisePayload(byte[] IdentityKey, byte[] IdentitySignature)
{
    /// <summary>"noise-libp2p-static-key:" — the prefix of the signed message (noise.md "Signing").</summary>
    public static ReadOnlySpan<byte> SignaturePrefix => "noise-libp2p-static-key:"u8;

    public static byte[] SignedMessage(ReadOnlySpan<byte> staticX25519PublicKey)
    {
        var message = new byte[SignaturePrefix.Length + staticX25519PublicKey.Length];
        SignaturePrefix.CopyTo(message);
        staticX25519PublicKey.CopyTo(message.AsSpan(SignaturePrefix.Length));
        return message;
    }

    public byte[] Encode()
    {
        var buf = new ArrayBufferWriter<byte>(IdentityKey.Length + IdentitySignature.Length + 8);
        var w = new ProtoWriter(buf);
        w.WriteBytesField(1, IdentityKey);
        w.WriteBytesField(2, IdentitySignature);
        return buf.WrittenSpan.ToArray();
    }

    public static bool TryDecode(ReadOnlySpan<byte> data, out NoisePayload? payload, out string? error)
    {
        payload = null;
        error = null;
        var r = new ProtoReader(data);
        ReadOnlySpan<byte> key = default, sig = default;
        bool haveKey = false, haveSig = false;
        while (!r.End)
        {
            if (!r.TryReadTag(out int field, out var wt))
            {
                error = "bad protobuf tag in noise payload";
                return false;
            }
            if (field == 1 && wt == WireType.LengthDelimited && r.TryReadBytes(out key))
            {
                haveKey = true;
            }
            else if (field == 2 && wt == WireType.LengthDelimited && r.TryReadBytes(out sig))
            {
                haveSig = true;
            }
            else if (field is 1 or 2 || !r.TrySkip(wt))
            {
                error = "bad protobuf field in noise payload";
                return false;
            }
        }
        if (!haveKey || !haveSig)
        {
            error = "noise payload lacks identity_key or identity_sig";
            return false;
        }
        payload = new NoisePayload(key.ToArray(), sig.ToArray());
        return true;
    }
}
