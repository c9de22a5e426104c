using BenchmarkDotNet.Attributes;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Noise;
using ClP2p.Libp2p.Transport;

namespace ClP2p.Bench;

/// <summary>
/// Noise XX handshakes with libp2p payloads (secp256k1 identities), both sides in this process on one thread:
/// 2 ephemeral keys, 6 X25519 agreements, 2 identity signature verifications, split. Handshakes/s = 1 / Mean.
/// </summary>
[MemoryDiagnoser]
public class NoiseHandshakeBench
{
    private NoiseLocalIdentity _initiator = null!;
    private NoiseLocalIdentity _responder = null!;
    private readonly byte[] _m1 = new byte[1024];
    private readonly byte[] _m2 = new byte[1024];
    private readonly byte[] _m3 = new byte[1024];
    private readonly byte[] _payload = new byte[1024];

    [GlobalSetup]
    public void Setup()
    {
        _initiator = new NoiseLocalIdentity(Identity.GenerateSecp256k1());
        _responder = new NoiseLocalIdentity(Identity.GenerateSecp256k1());
    }

    [Benchmark(Description = "Noise XX handshake, both sides, single thread")]
    public int Handshake()
    {
        using var i = new NoiseHandshakeState(true, _initiator.StaticKey, ReadOnlySpan<byte>.Empty);
        using var r = new NoiseHandshakeState(false, _responder.StaticKey, ReadOnlySpan<byte>.Empty);
        int n1 = i.WriteMessage(ReadOnlySpan<byte>.Empty, _m1);
        r.TryReadMessage(_m1.AsSpan(0, n1), _payload, out _);
        int n2 = r.WriteMessage(_responder.Payload, _m2);
        i.TryReadMessage(_m2.AsSpan(0, n2), _payload, out int p2);
        var rk = NoiseSecurity.VerifyPayload(_payload.AsSpan(0, p2), i.RemoteStaticKey);
        int n3 = i.WriteMessage(_initiator.Payload, _m3);
        r.TryReadMessage(_m3.AsSpan(0, n3), _payload, out int p3);
        var ik = NoiseSecurity.VerifyPayload(_payload.AsSpan(0, p3), r.RemoteStaticKey);
        var (a1, a2) = i.Split();
        var (b1, b2) = r.Split();
        a1.Dispose();
        a2.Dispose();
        b1.Dispose();
        b2.Dispose();
        return rk.Data.Length + ik.Data.Length;
    }

    [Benchmark(Description = "Noise XX handshake over an in-memory pipe (async, framed)")]
    public async Task<int> HandshakeOverPipe()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var responder = NoiseSecurity.HandshakeAsync(b, false, _responder, CancellationToken.None);
        var (si, ki) = await NoiseSecurity.HandshakeAsync(a, true, _initiator, CancellationToken.None);
        var (sr, kr) = await responder;
        await si.DisposeAsync();
        await sr.DisposeAsync();
        return ki.Data.Length + kr.Data.Length;
    }
}
