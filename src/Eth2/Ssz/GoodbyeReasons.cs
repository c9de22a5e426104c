using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

/// <summary>
/// Goodbye reasons: 1-3 from phase0/p2p-interface.md "Goodbye"; codes from 128 are the clients' own, named as they name
/// them: Teku 128 (unable to verify network) and 130 (rate limiting), Lighthouse 129 (too many peers), 250 (bad score),
/// 251 (banned) and 252 (banned IP), Nimbus 237 (peer score low). Prysm and Lodestar use the Teku/Lighthouse codes.
/// </summary>
public static class GoodbyeReasons
{
    public const ulong ClientShutdown = 1;
    public const ulong IrrelevantNetwork = 2;
    public const ulong Fault = 3;
    public const ulong UnableToVerifyNetwork = 128;
    public const ulong TooManyPeers = 129;
    /// <summary>Teku: the peer sent requests faster than allowed.</summary>
    public const ulong RateLimiting = 130;
    /// <summary>Nimbus: the peer's score fell below its threshold.</summary>
    public const ulong PeerScoreLow = 237;
    public const ulong BadScore = 250;
    public const ulong Banned = 251;
    public const ulong BannedIp = 252;

    public static string Describe(ulong reason) => reason switch
    {
        ClientShutdown => "client_shutdown",
        IrrelevantNetwork => "irrelevant_network",
        Fault => "fault",
        UnableToVerifyNetwork => "unable_to_verify_network",
        TooManyPeers => "too_many_peers",
        RateLimiting => "rate_limiting",
        PeerScoreLow => "peer_score_low",
        BadScore => "bad_score",
        Banned => "banned",
        BannedIp => "banned_ip",
        _ => "unknown",
    };
}
