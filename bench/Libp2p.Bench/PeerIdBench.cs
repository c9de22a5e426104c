using BenchmarkDotNet.Attributes;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Bench;

/// <summary>
/// The peer id of a record's secp256k1 key, as the crawler makes it for every record it stores and every node it
/// dials: with the point parsed (and so checked) again, and from a verified record's key, only its length checked.
/// </summary>
[MemoryDiagnoser]
public class PeerIdBench
{
    private byte[] _key = [];

    [GlobalSetup]
    public void Setup() => _key = Identity.GenerateSecp256k1().PublicKey.Data.ToArray();

    [Benchmark(Baseline = true, Description = "peer id of a secp256k1 key, point parsed")]
    public PeerId Parsed() => PeerId.FromSecp256k1PublicKey(_key);

    [Benchmark(Description = "peer id of a verified record's key")]
    public PeerId Verified() => PeerId.FromVerifiedSecp256k1PublicKey(_key);
}
