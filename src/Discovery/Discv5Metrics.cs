using System.Diagnostics.Metrics;

namespace ClP2p.Discovery;

/// <summary>System.Diagnostics.Metrics instruments, meter "ClP2p.Discovery", names clp2p.discv5.*.</summary>
internal static class Discv5Metrics
{
    public const string MeterName = "ClP2p.Discovery";
    public static readonly Meter Meter = new(MeterName);
    public static readonly Counter<long> PacketsReceived = Meter.CreateCounter<long>("clp2p.discv5.packets_received");
    public static readonly Counter<long> PacketsSent = Meter.CreateCounter<long>("clp2p.discv5.packets_sent");
    public static readonly Counter<long> PacketsDropped = Meter.CreateCounter<long>("clp2p.discv5.packets_dropped", description: "received packets dropped, by reason");
    public static readonly Counter<long> RecordsDropped = Meter.CreateCounter<long>("clp2p.discv5.records_dropped", description: "ENRs in NODES responses dropped, by reason");
    public static readonly Counter<long> RecordsUntrusted = Meter.CreateCounter<long>("clp2p.discv5.records_relay_untrusted", description: "ENRs kept but never contacted: a LAN or loopback address returned by a public node (geth netutil.CheckRelayIP)");
    public static readonly Counter<long> RecordsVerified = Meter.CreateCounter<long>("clp2p.discv5.records_verified", description: "ENR signature checks: 'verified' for a record seen first, 'cached' for one verified before");
    public static readonly Counter<long> Handshakes = Meter.CreateCounter<long>("clp2p.discv5.handshakes", description: "completed handshakes, by direction");
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("clp2p.discv5.requests", description: "requests we sent, by type and outcome");
    public static readonly Counter<long> LateAnswers = Meter.CreateCounter<long>("clp2p.discv5.late_answers", description: "answers that came after their request had timed out, kept for a retry");
    public static readonly Counter<long> RequestsServed = Meter.CreateCounter<long>("clp2p.discv5.requests_served", description: "requests answered, by type");
}
