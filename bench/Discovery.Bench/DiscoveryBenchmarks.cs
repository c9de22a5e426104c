using System.Net;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Bench;

/// <summary>
/// Single-threaded throughput of the discv5 hot paths. Targets on the reference 2-core machine:
/// ENR decode+verify ≥ 20,000/s, ordinary packet decode+decrypt ≥ 200,000/s, full handshakes ≥ 3,000/s.
/// </summary>
[MemoryDiagnoser]
public class DiscoveryBenchmarks
{
    private byte[] _enr = [];
    private byte[] _packet = [];
    private PacketCodec _codecB = null!;
    private PacketCodec _codecA = null!;
    private MessageCipher _key = null!;
    private readonly byte[] _pt = new byte[1280];
    private byte[] _keyA = [], _keyB = [];
    private NodeId _idA, _idB;
    private Enr _enrA = null!, _enrB = null!;
    private readonly byte[] _buf = new byte[1280];

    [GlobalSetup]
    public void Setup()
    {
        _enr = Enr.Parse("enr:-Iu4QM-YJF2RRpMcZkFiWzMf2kRd1A5F1GIekPa4Sfi_v0DCLTDBfOMTMMWJhhawr1YLUPb5008CpnBKrgjY3sstjfgCgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQP8u1uyQFyJYuQUTyA1raXKhSw1HhhxNUQ2VE52LNHWMIN0Y3CCIyiDdWRwgiMo").Raw.ToArray();
        _keyA = new byte[32]; _keyB = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, _keyA);
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, _keyB);
        _enrA = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9000).Build(_keyA);
        _enrB = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(9001).Build(_keyB);
        _idA = _enrA.NodeId; _idB = _enrB.NodeId;
        _codecB = new PacketCodec(_idB);
        _codecA = new PacketCodec(_idA);
        var k = new byte[16];
        RandomNumberGenerator.Fill(k);
        _key = new MessageCipher(k);
        _platform = new AesGcm(k, 16);
        var iv = new byte[16]; var nonce = new byte[12];
        RandomNumberGenerator.Fill(iv); RandomNumberGenerator.Fill(nonce);
        var ping = Convert.FromHexString("01c6840000000102");
        int n = PacketCodec.EncodeMessage(_buf, _idB, iv, nonce, _idA, _key, ping);
        _packet = _buf[..n];
        if (!EnrDecodeVerify() || !PacketDecodeDecrypt() || !FullHandshake()) throw new InvalidOperationException("benchmark self-check failed");
    }

    // a NODES message's size (about four records) and a request's, for the session cipher against the platform's
    private readonly byte[] _large = RandomNumberGenerator.GetBytes(1100), _small = RandomNumberGenerator.GetBytes(60);
    private readonly byte[] _out = new byte[1100], _tag = new byte[16], _ad = RandomNumberGenerator.GetBytes(55), _nonce = RandomNumberGenerator.GetBytes(12);
    private AesGcm _platform = null!;

    [Benchmark(Description = "session cipher: 1,100-byte message sealed and opened")]
    public bool SealOpenLarge()
    {
        _key.Encrypt(_nonce, _large, _out, _tag, _ad);
        return _key.TryDecrypt(_nonce, _out, _tag, _pt.AsSpan(0, _large.Length), _ad);
    }

    [Benchmark(Description = "platform AES-GCM: 1,100-byte message sealed and opened")]
    public bool SealOpenLargePlatform()
    {
        _platform.Encrypt(_nonce, _large, _out, _tag, _ad);
        _platform.Decrypt(_nonce, _out, _tag, _pt.AsSpan(0, _large.Length), _ad);
        return true;
    }

    [Benchmark(Description = "session cipher: 60-byte message sealed and opened")]
    public bool SealOpenSmall()
    {
        _key.Encrypt(_nonce, _small, _out.AsSpan(0, 60), _tag, _ad);
        return _key.TryDecrypt(_nonce, _out.AsSpan(0, 60), _tag, _pt.AsSpan(0, 60), _ad);
    }

    [Benchmark(Description = "platform AES-GCM: 60-byte message sealed and opened")]
    public bool SealOpenSmallPlatform()
    {
        _platform.Encrypt(_nonce, _small, _out.AsSpan(0, 60), _tag, _ad);
        _platform.Decrypt(_nonce, _out.AsSpan(0, 60), _tag, _pt.AsSpan(0, 60), _ad);
        return true;
    }

    [Benchmark(Description = "ENR decode+verify")]
    public bool EnrDecodeVerify() => Enr.TryDecode(_enr, out _, out _);

    [Benchmark(Description = "ordinary packet decode+decrypt")]
    public bool PacketDecodeDecrypt()
    {
        if (!_codecB.TryDecode(_packet, out var v, out _)) return false;
        return PacketCodec.TryDecrypt(_key, v.Nonce, v.Message, v.Header, _pt);
    }

    /// <summary>
    /// One full handshake, both sides: B writes a WHOAREYOU, A decodes it, makes an ephemeral key, ECDH, derives
    /// keys, signs the id-nonce and writes the handshake packet (with its record); B decodes it, verifies the record
    /// and the id signature, ECDH, derives keys and decrypts the message.
    /// </summary>
    [Benchmark(Description = "full handshake (both sides)")]
    public bool FullHandshake()
    {
        Span<byte> iv = stackalloc byte[16];
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> idNonce = stackalloc byte[16];
        RandomNumberGenerator.Fill(iv); RandomNumberGenerator.Fill(nonce); RandomNumberGenerator.Fill(idNonce);
        // B -> A: WHOAREYOU
        Span<byte> challengeB = stackalloc byte[63];
        Span<byte> way = stackalloc byte[63];
        PacketCodec.EncodeWhoAreYou(way, _idA, iv, nonce, idNonce, 0, challengeB);
        if (!_codecA.TryDecode(way, out var wv, out _)) return false;
        ReadOnlySpan<byte> challenge = wv.Header;
        // A: ephemeral key, ECDH with B's static key, keys, id signature, handshake packet
        Span<byte> eph = stackalloc byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, eph);
        Span<byte> ephParsed = stackalloc byte[64];
        Secp256k1Ops.TryCreatePublicKey(eph, ephParsed);
        Span<byte> ephPub = stackalloc byte[33];
        Secp256k1Ops.SerializeCompressed(ephParsed, ephPub);
        Span<byte> secret = stackalloc byte[33];
        Secp256k1Ops.TryEcdh(_enrB.ParsedPublicKey, eph, secret);
        Span<byte> ik = stackalloc byte[16]; Span<byte> rk = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(secret, challenge, _idA, _idB, ik, rk);
        Span<byte> sig = stackalloc byte[64];
        HandshakeCrypto.TrySignIdNonce(_keyA, challenge, ephPub, _idB, sig);
        using var sessionA = new Session(ik, rk, _enrB);
        RandomNumberGenerator.Fill(nonce);
        int n = PacketCodec.EncodeHandshake(_buf, _idB, iv, nonce, _idA, sig, ephPub, _enrA.Raw.Span, sessionA.WriteKey, [0x01, 0xc6, 0x84, 0, 0, 0, 1, 0x01]);
        // B: decode, record, id signature, ECDH, keys, decrypt
        if (!_codecB.TryDecode(_buf.AsSpan(0, n), out var hv, out _)) return false;
        var auth = new HandshakeAuthData(hv.AuthData);
        if (!Enr.TryDecode(auth.Record, out var rec, out _) || rec!.NodeId != auth.SourceId) return false;
        if (!HandshakeCrypto.VerifyIdNonce(rec.ParsedPublicKey, challengeB, auth.EphemeralPublicKey, _idB, auth.IdSignature)) return false;
        Span<byte> e2 = stackalloc byte[64];
        if (!Secp256k1Ops.TryParsePublicKey(auth.EphemeralPublicKey, e2)) return false;
        Span<byte> s2 = stackalloc byte[33];
        Secp256k1Ops.TryEcdh(e2, _keyB, s2);
        Span<byte> ik2 = stackalloc byte[16]; Span<byte> rk2 = stackalloc byte[16];
        HandshakeCrypto.DeriveKeys(s2, challengeB, auth.SourceId, _idB, ik2, rk2);
        using var sessionB = new Session(rk2, ik2, rec);
        return PacketCodec.TryDecrypt(sessionB.ReadKey, hv.Nonce, hv.Message, hv.Header, _pt);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _codecB.Dispose();
        _codecA.Dispose();
        _key.Dispose();
        _platform.Dispose();
    }
}
