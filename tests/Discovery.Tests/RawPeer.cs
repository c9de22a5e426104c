using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Discovery.Tests;

/// <summary>A hand-driven discv5 peer on a raw UDP socket, for exact packet sequences and misbehaviour.</summary>
internal sealed class RawPeer : IDisposable
{
    private readonly UdpClient _udp;
    private readonly PacketCodec _codec;

    public RawPeer()
    {
        Key = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, Key);
        _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_udp.Client.LocalEndPoint!;
        Enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(EndPoint.Port).Build(Key);
        _codec = new PacketCodec(Enr.NodeId);
    }

    public byte[] Key { get; }
    public Enr Enr { get; }
    public NodeId Id => Enr.NodeId;
    public IPEndPoint EndPoint { get; }

    public void Send(ReadOnlySpan<byte> packet, IPEndPoint to) => _udp.Client.SendTo(packet, SocketFlags.None, to);

    public async Task<byte[]?> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(3));
        try { return (await _udp.ReceiveAsync(cts.Token)).Buffer; }
        catch (OperationCanceledException) { return null; }
    }

    /// <summary>The next datagram and its sender; null once <paramref name="ct"/> is cancelled.</summary>
    public async Task<UdpReceiveResult?> ReceiveFromAsync(CancellationToken ct)
    {
        try { return await _udp.ReceiveAsync(ct); }
        catch (OperationCanceledException) { return null; }
        catch (ObjectDisposedException) { return null; }
    }

    public static byte[] Rand(int n) { var b = new byte[n]; RandomNumberGenerator.Fill(b); return b; }

    /// <summary>An ordinary packet with random content from srcId (default: this peer).</summary>
    public byte[] RandomPacket(NodeId dest, NodeId? src = null)
    {
        var buf = new byte[1280];
        int n = PacketCodec.EncodeRandomMessage(buf, dest, Rand(16), Rand(12), src ?? Id, Rand(44));
        return buf[..n];
    }

    public bool TryDecode(byte[] packet, out PacketFlag flag, out byte[] header, out byte[] nonce, out byte[] message)
    {
        flag = default; header = nonce = message = [];
        if (!_codec.TryDecode(packet, out var v, out _)) return false;
        flag = v.Flag; header = v.Header.ToArray(); nonce = v.Nonce.ToArray(); message = v.Message.ToArray();
        return true;
    }

    /// <summary>Initiator side: answers a WHOAREYOU with a handshake carrying plaintext. Returns the session (write = initiator key).</summary>
    public (byte[] Packet, Session Session) Handshake(byte[] whoAreYou, Enr dest, byte[] plaintext, Enr? record)
    {
        Assert.True(TryDecode(whoAreYou, out var flag, out var challenge, out _, out _));
        Assert.Equal(PacketFlag.WhoAreYou, flag);
        var eph = TestNodes.NewKey();
        var ephPub = Secp256k1Ops.CompressedPublicKey(eph);
        var secret = new byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(dest.ParsedPublicKey, eph, secret));
        var ik = new byte[16]; var rk = new byte[16];
        HandshakeCrypto.DeriveKeys(secret, challenge, Id, dest.NodeId, ik, rk);
        var sig = new byte[64];
        HandshakeCrypto.TrySignIdNonce(Key, challenge, ephPub, dest.NodeId, sig);
        var s = new Session(ik, rk, dest);
        var buf = new byte[1280];
        int n = PacketCodec.EncodeHandshake(buf, dest.NodeId, Rand(16), Rand(12), Id, sig, ephPub, record is null ? default : record.Raw.Span, s.WriteKey, plaintext);
        return (buf[..n], s);
    }

    /// <summary>Recipient side: a WHOAREYOU answering a received packet. Returns the packet and the challenge-data.</summary>
    public (byte[] Packet, byte[] Challenge) WhoAreYouFor(byte[] received, NodeId dest, ulong enrSeq)
    {
        Assert.True(TryDecode(received, out _, out _, out var nonce, out _));
        var buf = new byte[63];
        var challenge = new byte[63];
        PacketCodec.EncodeWhoAreYou(buf, dest, Rand(16), nonce, Rand(16), enrSeq, challenge);
        return (buf, challenge);
    }

    /// <summary>Recipient side: accepts a handshake, returns the decrypted message and the session (write = recipient key).</summary>
    public (Discv5Message Message, Session Session) AcceptHandshake(byte[] packet, byte[] challenge)
    {
        Assert.True(TryDecode(packet, out var flag, out var header, out var nonce, out var message));
        Assert.Equal(PacketFlag.Handshake, flag);
        var auth = new HandshakeAuthData(header.AsSpan(16 + 23));
        var eph = new byte[64];
        Assert.True(Secp256k1Ops.TryParsePublicKey(auth.EphemeralPublicKey, eph));
        var secret = new byte[33];
        Assert.True(Secp256k1Ops.TryEcdh(eph, Key, secret));
        var ik = new byte[16]; var rk = new byte[16];
        HandshakeCrypto.DeriveKeys(secret, challenge, auth.SourceId, Id, ik, rk);
        var s = new Session(rk, ik, null);
        var pt = new byte[message.Length - 16];
        Assert.True(PacketCodec.TryDecrypt(s.ReadKey, nonce, message, header, pt));
        Assert.True(MessageCodec.TryDecode(pt, out var m, out _));
        return (m!, s);
    }

    public byte[] Encrypt(NodeId dest, Session s, Discv5Message m)
    {
        var buf = new byte[1280];
        int n = PacketCodec.EncodeMessage(buf, dest, Rand(16), Rand(12), Id, s.WriteKey, MessageCodec.Encode(m));
        return buf[..n];
    }

    public Discv5Message Decrypt(byte[] packet, Session s)
    {
        Assert.True(TryDecode(packet, out var flag, out var header, out var nonce, out var message));
        Assert.Equal(PacketFlag.Message, flag);
        var pt = new byte[message.Length - 16];
        Assert.True(PacketCodec.TryDecrypt(s.ReadKey, nonce, message, header, pt));
        Assert.True(MessageCodec.TryDecode(pt, out var m, out _));
        return m!;
    }

    /// <param name="WhoAreYou">the challenge packet sent (sent again as is, it is the copy a remote repeats)</param>
    /// <param name="Packet">the node's handshake packet that answered it</param>
    public sealed record HandshakeResult(Session Session, byte[] WhoAreYou, byte[] Packet);

    public static ulong WhoAreYouSeq(byte[] header) => BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(16 + 23 + 16));

    public void Dispose()
    {
        _udp.Dispose();
        _codec.Dispose();
    }
}
