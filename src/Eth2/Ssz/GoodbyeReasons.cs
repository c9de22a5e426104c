using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

/// <summary>Goodbye reasons (phase0/p2p-interface.md Goodbye; codes ≥ 128 from Lighthouse GoodbyeReason).</summary>
public static class GoodbyeReasons
{
    public const ulong ClientShutdown = 1;
    public const ulong IrrelevantNetwork = 2;
    public const ulong Fault = 3;
    public const ulong UnableToVerifyNetwork = 128;
    public const ulong TooManyPeers = 129;
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
        BadScore => "bad_score",
        Banned => "banned",
        BannedIp => "banned_ip",
        _ => "unknown",
    };
}
