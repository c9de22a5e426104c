using System.Buffers.Binary;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Packets;

/// <summary>discv5-wire.md "Packet Encoding": the flag byte of the static header.</summary>
public enum PacketFlag : byte
{
    Message = 0,
    WhoAreYou = 1,
    Handshake = 2,
}

/// <summary>Why a packet was rejected before any session lookup.</summary>
public enum PacketError
{
    None,
    TooSmall,
    TooLarge,
    BadProtocolId,
    BadVersion,
    BadFlag,
    BadAuthDataSize,
    WhoAreYouWithMessage,
    BadHandshakeSizes,
    MessageTooShort,
}

/// <summary>A decoded packet. Spans point into the received packet and into the codec's header buffer.</summary>
public readonly ref struct PacketView
{
    public PacketView(ReadOnlySpan<byte> header, PacketFlag flag, ReadOnlySpan<byte> message)
    {
        Header = header; Flag = flag; Message = message;
    }

    /// <summary>masking-iv || unmasked static-header || authdata: the AES-GCM associated data, and for a WHOAREYOU the challenge-data.</summary>
    public ReadOnlySpan<byte> Header { get; }
    public PacketFlag Flag { get; }
    /// <summary>The message ciphertext including the 16-byte GCM tag (empty for WHOAREYOU).</summary>
    public ReadOnlySpan<byte> Message { get; }
    public ReadOnlySpan<byte> MaskingIv => Header[..PacketCodec.MaskingIvSize];
    public ReadOnlySpan<byte> Nonce => Header.Slice(PacketCodec.MaskingIvSize + PacketCodec.NonceOffset, PacketCodec.NonceSize);
    public ReadOnlySpan<byte> AuthData => Header[(PacketCodec.MaskingIvSize + PacketCodec.StaticHeaderSize)..];
    /// <summary>Ordinary and handshake packets: the sender's node id (first 32 bytes of authdata).</summary>
    public NodeId SourceId => new(AuthData[..32]);
}

/// <summary>
/// discv5 v5.1 packet codec (discv5-wire.md "Packet Encoding"):
/// packet = masking-iv || masked-header || message; masked-header = aesctr(dest-id[:16], masking-iv, header).
/// Decoding uses the local node's masking key and a reusable header buffer: one codec per receive loop, not thread-safe.
/// </summary>
public sealed class PacketCodec : IDisposable
{
    /// <summary>discv5-wire.md: "The minimum size of any Discovery v5 packet is 63 bytes."</summary>
    public const int MinPacketSize = 63;
    /// <summary>discv5-wire.md: "Implementations should not send packets larger than 1280 bytes."</summary>
    public const int MaxPacketSize = 1280;
    public const int MaskingIvSize = 16;
    /// <summary>static-header = protocol-id(6) || version(2) || flag(1) || nonce(12) || authdata-size(2).</summary>
    public const int StaticHeaderSize = 23;
    public const int NonceOffset = 9;
    public const int NonceSize = 12;
    public const int IdNonceSize = 16;
    public const int GcmTagSize = 16;
    public const int MessageAuthDataSize = 32;
    public const int WhoAreYouAuthDataSize = 24;
    /// <summary>A WHOAREYOU packet's whole size (its masking IV, static header and authdata; it has no message): 63.</summary>
    public const int WhoAreYouSize = MaskingIvSize + StaticHeaderSize + WhoAreYouAuthDataSize;
    /// <summary>Handshake authdata-head = src-id(32) || sig-size(1) || eph-key-size(1).</summary>
    public const int HandshakeAuthDataHeadSize = 34;
    public const int IdSignatureSize = 64;
    public const int EphemeralKeySize = 33;
    public const ushort ProtocolVersion = 1;
    public static ReadOnlySpan<byte> ProtocolId => "discv5"u8;

    private readonly AesCtr? _unmask;
    private readonly HeaderMask.RoundKeys _unmaskKeys;
    private readonly byte[] _header = new byte[MaxPacketSize];

    public PacketCodec(NodeId localId)
    {
        Span<byte> localIdBytes = stackalloc byte[32];
        localId.CopyTo(localIdBytes);
        if (HeaderMask.Accelerated) _unmaskKeys = new HeaderMask.RoundKeys(localIdBytes[..16]);
        else _unmask = new AesCtr(localIdBytes[..16]);
    }

    private void Unmask(ReadOnlySpan<byte> maskingIv, Span<byte> data, int firstBlock = 0)
    {
        if (_unmask is null) _unmaskKeys.Apply(maskingIv, data, firstBlock);
        else _unmask.Transform(maskingIv, data, firstBlock);
    }

    /// <summary>Unmasks and validates the header. The returned view is valid until the next call.</summary>
    public bool TryDecode(ReadOnlySpan<byte> packet, out PacketView view, out PacketError error)
    {
        view = default;
        if (packet.Length < MinPacketSize) { error = PacketError.TooSmall; return false; }
        if (packet.Length > MaxPacketSize) { error = PacketError.TooLarge; return false; }
        var maskingIv = packet[..MaskingIvSize];
        var header = _header.AsSpan();
        // unmask the first 4 key-stream blocks at once: the whole header of an ordinary message packet (23 + 32 bytes)
        int first = Math.Min(packet.Length - MaskingIvSize, 64);
        packet[..(MaskingIvSize + first)].CopyTo(header);
        Unmask(maskingIv, header.Slice(MaskingIvSize, first));
        var staticHeader = header.Slice(MaskingIvSize, StaticHeaderSize);
        if (!staticHeader[..6].SequenceEqual(ProtocolId)) { error = PacketError.BadProtocolId; return false; }
        if (BinaryPrimitives.ReadUInt16BigEndian(staticHeader[6..]) != ProtocolVersion) { error = PacketError.BadVersion; return false; }
        byte flag = staticHeader[8];
        int authSize = BinaryPrimitives.ReadUInt16BigEndian(staticHeader[21..]);
        int headerEnd = MaskingIvSize + StaticHeaderSize + authSize;
        if (headerEnd > packet.Length) { error = PacketError.BadAuthDataSize; return false; }
        switch (flag)
        {
            case (byte)PacketFlag.Message:
                if (authSize != MessageAuthDataSize) { error = PacketError.BadAuthDataSize; return false; }
                if (packet.Length - headerEnd < GcmTagSize) { error = PacketError.MessageTooShort; return false; }
                break;
            case (byte)PacketFlag.WhoAreYou:
                if (authSize != WhoAreYouAuthDataSize) { error = PacketError.BadAuthDataSize; return false; }
                if (packet.Length != headerEnd) { error = PacketError.WhoAreYouWithMessage; return false; }
                break;
            case (byte)PacketFlag.Handshake:
                if (authSize < HandshakeAuthDataHeadSize + IdSignatureSize + EphemeralKeySize) { error = PacketError.BadAuthDataSize; return false; }
                if (packet.Length - headerEnd < GcmTagSize) { error = PacketError.MessageTooShort; return false; }
                break;
            default:
                error = PacketError.BadFlag; return false;
        }
        if (headerEnd > MaskingIvSize + first)
        {
            // longer authdata (handshake): continue the key stream at block 4
            packet[(MaskingIvSize + first)..headerEnd].CopyTo(header[(MaskingIvSize + first)..]);
            Unmask(maskingIv, header[(MaskingIvSize + first)..headerEnd], first / 16);
        }
        if (flag == (byte)PacketFlag.Handshake)
        {
            var authData = header[(MaskingIvSize + StaticHeaderSize)..headerEnd];
            if (authData[32] != IdSignatureSize || authData[33] != EphemeralKeySize) { error = PacketError.BadHandshakeSizes; return false; }
        }
        view = new PacketView(header[..headerEnd], (PacketFlag)flag, packet[headerEnd..]);
        error = PacketError.None;
        return true;
    }

    private static int WriteStaticHeader(Span<byte> dest, PacketFlag flag, ReadOnlySpan<byte> nonce, int authSize)
    {
        ProtocolId.CopyTo(dest);
        BinaryPrimitives.WriteUInt16BigEndian(dest[6..], ProtocolVersion);
        dest[8] = (byte)flag;
        nonce[..NonceSize].CopyTo(dest[9..]);
        BinaryPrimitives.WriteUInt16BigEndian(dest[21..], checked((ushort)authSize));
        return StaticHeaderSize;
    }

    private static void Mask(Span<byte> packet, int headerEnd, NodeId destId)
    {
        Span<byte> destIdBytes = stackalloc byte[32];
        destId.CopyTo(destIdBytes);
        HeaderMask.Apply(destIdBytes[..16], packet[..MaskingIvSize], packet[MaskingIvSize..headerEnd]);
    }

    private static int Seal(Span<byte> dest, int headerEnd, MessageCipher key, ReadOnlySpan<byte> plaintext)
    {
        var nonce = dest.Slice(MaskingIvSize + NonceOffset, NonceSize);
        var ciphertext = dest.Slice(headerEnd, plaintext.Length);
        var tag = dest.Slice(headerEnd + plaintext.Length, GcmTagSize);
        key.Encrypt(nonce, plaintext, ciphertext, tag, dest[..headerEnd]);
        return headerEnd + plaintext.Length + GcmTagSize;
    }

    /// <summary>Ordinary message packet (flag 0) encrypted with the session write key.</summary>
    public static int EncodeMessage(Span<byte> dest, NodeId destId, ReadOnlySpan<byte> maskingIv, ReadOnlySpan<byte> nonce, NodeId srcId, MessageCipher key, ReadOnlySpan<byte> plaintext)
    {
        int headerEnd = WriteMessageHeader(dest, maskingIv, nonce, srcId);
        int length = Seal(dest, headerEnd, key, plaintext);
        Mask(dest, headerEnd, destId);
        return length;
    }

    /// <summary>An ordinary packet with random content, sent to provoke a WHOAREYOU when no session exists.</summary>
    public static int EncodeRandomMessage(Span<byte> dest, NodeId destId, ReadOnlySpan<byte> maskingIv, ReadOnlySpan<byte> nonce, NodeId srcId, ReadOnlySpan<byte> randomContent)
    {
        int headerEnd = WriteMessageHeader(dest, maskingIv, nonce, srcId);
        randomContent.CopyTo(dest[headerEnd..]);
        Mask(dest, headerEnd, destId);
        return headerEnd + randomContent.Length;
    }

    private static int WriteMessageHeader(Span<byte> dest, ReadOnlySpan<byte> maskingIv, ReadOnlySpan<byte> nonce, NodeId srcId)
    {
        maskingIv[..MaskingIvSize].CopyTo(dest);
        int o = MaskingIvSize + WriteStaticHeader(dest[MaskingIvSize..], PacketFlag.Message, nonce, MessageAuthDataSize);
        srcId.CopyTo(dest[o..]);
        return o + 32;
    }

    /// <summary>WHOAREYOU (flag 1). The first 63 bytes of dest before masking are the challenge-data; they are copied out.</summary>
    public static int EncodeWhoAreYou(Span<byte> dest, NodeId destId, ReadOnlySpan<byte> maskingIv, ReadOnlySpan<byte> requestNonce, ReadOnlySpan<byte> idNonce, ulong enrSeq, Span<byte> challengeData)
    {
        maskingIv[..MaskingIvSize].CopyTo(dest);
        int o = MaskingIvSize + WriteStaticHeader(dest[MaskingIvSize..], PacketFlag.WhoAreYou, requestNonce, WhoAreYouAuthDataSize);
        idNonce[..IdNonceSize].CopyTo(dest[o..]); o += IdNonceSize;
        BinaryPrimitives.WriteUInt64BigEndian(dest[o..], enrSeq); o += 8;
        dest[..o].CopyTo(challengeData);
        Mask(dest, o, destId);
        return o;
    }

    /// <summary>Handshake message packet (flag 2).</summary>
    public static int EncodeHandshake(Span<byte> dest, NodeId destId, ReadOnlySpan<byte> maskingIv, ReadOnlySpan<byte> nonce, NodeId srcId,
        ReadOnlySpan<byte> idSignature, ReadOnlySpan<byte> ephemeralPublicKey, ReadOnlySpan<byte> record, MessageCipher key, ReadOnlySpan<byte> plaintext)
    {
        int authSize = HandshakeAuthDataHeadSize + IdSignatureSize + EphemeralKeySize + record.Length;
        maskingIv[..MaskingIvSize].CopyTo(dest);
        int o = MaskingIvSize + WriteStaticHeader(dest[MaskingIvSize..], PacketFlag.Handshake, nonce, authSize);
        srcId.CopyTo(dest[o..]); o += 32;
        dest[o++] = IdSignatureSize;
        dest[o++] = EphemeralKeySize;
        idSignature[..IdSignatureSize].CopyTo(dest[o..]); o += IdSignatureSize;
        ephemeralPublicKey[..EphemeralKeySize].CopyTo(dest[o..]); o += EphemeralKeySize;
        record.CopyTo(dest[o..]); o += record.Length;
        int length = Seal(dest, o, key, plaintext);
        Mask(dest, o, destId);
        return length;
    }

    /// <summary>Decrypts a message into dest (ciphertext length - 16 bytes). False when authentication fails.</summary>
    public static bool TryDecrypt(MessageCipher key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertextWithTag, ReadOnlySpan<byte> ad, Span<byte> dest)
    {
        if (ciphertextWithTag.Length < GcmTagSize) return false;
        int plaintextLength = ciphertextWithTag.Length - GcmTagSize;
        return key.TryDecrypt(nonce, ciphertextWithTag[..plaintextLength], ciphertextWithTag[plaintextLength..], dest[..plaintextLength], ad);
    }

    public void Dispose() => _unmask?.Dispose();
}

/// <summary>Parsed handshake authdata (flag 2).</summary>
public readonly ref struct HandshakeAuthData
{
    public HandshakeAuthData(ReadOnlySpan<byte> authData)
    {
        SourceId = new NodeId(authData[..32]);
        IdSignature = authData.Slice(PacketCodec.HandshakeAuthDataHeadSize, PacketCodec.IdSignatureSize);
        EphemeralPublicKey = authData.Slice(PacketCodec.HandshakeAuthDataHeadSize + PacketCodec.IdSignatureSize, PacketCodec.EphemeralKeySize);
        Record = authData[(PacketCodec.HandshakeAuthDataHeadSize + PacketCodec.IdSignatureSize + PacketCodec.EphemeralKeySize)..];
    }

    public NodeId SourceId { get; }
    public ReadOnlySpan<byte> IdSignature { get; }
    public ReadOnlySpan<byte> EphemeralPublicKey { get; }
    /// <summary>The sender's ENR (RLP), empty when not included.</summary>
    public ReadOnlySpan<byte> Record { get; }
}
