namespace ClP2p.Storage.Tests;

/// <summary>Deterministic sample observations.</summary>
public static class Samples
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static byte[] NodeId(int i)
    {
        var id = new byte[32];
        new Random(i).NextBytes(id);
        id[0] = (byte)(i >> 8);
        id[1] = (byte)i;
        return id;
    }

    /// <summary>The address sample node <paramref name="node"/> is stored with (data only: nothing is sent to it).</summary>
    public static string Ip(int node) => $"10.0.{node / 256 % 256}.{node % 256}";

    public static EnrObservation Enr(int node, ulong seq, DateTimeOffset? at = null, string forkDigest = "6a95a1a9", string? network = "mainnet", string? fork = "electra") => new()
    {
        NodeId = NodeId(node),
        Seq = seq,
        Raw = [0xf8, 0x84, (byte)node, (byte)seq, .. NodeId(node)],
        SeenAt = at ?? T0,
        PublicKey = [0x02, .. NodeId(node)[..32]],
        Ip4 = Ip(node),
        Udp = 9000,
        Tcp = 9000,
        Quic = 9001,
        ForkDigest = Convert.FromHexString(forkDigest),
        ForkName = fork,
        NetworkName = network,
        NextForkVersion = [0x06, 0, 0, 0],
        NextForkEpoch = ulong.MaxValue,
        Attnets = [0xff, 0, 0, 0, 0, 0, 0, 1],
        Syncnets = [0x0f],
        Cgc = 8,
        Nfd = [0xde, 0xad, 0xbe, 0xef],
    };

    public static VisitObservation Visit(long crawlId, int node, ulong? enrSeq = 1, string outcome = "ok", string? agent = "Lighthouse/v7.1.0-abc/x86_64-linux",
        string? client = "lighthouse", string? version = "v7.1.0", string? os = "linux", string? arch = "x86_64", DateTimeOffset? at = null, string? ip = null) => new()
    {
        CrawlId = crawlId,
        NodeId = NodeId(node),
        VisitedAt = at ?? T0.AddSeconds(1),
        EnrSeq = enrSeq,
        Ip = ip ?? Ip(node),
        DiscoveryAnswered = true,
        Neighbours = 16,
        DialOutcome = outcome,
        DialError = outcome is "ok" or "not_dialled" ? null : "dial tcp: " + outcome,
        FailedStep = outcome is "ok" or "not_dialled" ? null : "tcp",
        LatencyMs = outcome == "ok" ? 42 : null,
        AgentVersion = outcome == "ok" ? agent : null,
        Client = outcome == "ok" ? client : null,
        ClientVersion = outcome == "ok" ? version : null,
        Os = outcome == "ok" ? os : null,
        Arch = outcome == "ok" ? arch : null,
        PeerId = outcome == "ok" ? "16Uiu2HAm" + node : null,
        Muxer = outcome == "ok" ? "/yamux/1.0.0" : null,
        StatusForkDigest = outcome == "ok" ? [0x6a, 0x95, 0xa1, 0xa9] : null,
        FinalizedRoot = outcome == "ok" ? new byte[32] : null,
        FinalizedEpoch = outcome == "ok" ? 400_000UL : null,
        HeadRoot = outcome == "ok" ? Enumerable.Repeat((byte)0xab, 32).ToArray() : null,
        HeadSlot = outcome == "ok" ? 12_800_031UL : null,
        EarliestAvailableSlot = outcome == "ok" ? 0UL : null,
        StatusVersion = outcome == "ok" ? 2 : null,
        MetadataSeq = outcome == "ok" ? 77UL : null,
        MetadataAttnets = outcome == "ok" ? [1, 2, 3, 4, 5, 6, 7, 8] : null,
        MetadataSyncnets = outcome == "ok" ? [0x03] : null,
        CustodyGroupCount = outcome == "ok" ? 4UL : null,
        MetadataVersion = outcome == "ok" ? 3 : null,
        GoodbyeReason = outcome == "ok" ? 129UL : null,
        StatusDigestSent = outcome == "ok" ? [0x6a, 0x95, 0xa1, 0xa9] : null,
        DigestMismatch = outcome == "ok" ? false : null,
    };

    public static ResultWriterOptions FastWriter(int capacity = 100_000) => new()
    {
        Capacity = capacity,
        Linger = TimeSpan.FromMilliseconds(20),
        InitialRetryDelay = TimeSpan.FromMilliseconds(100),
        MaxRetryDelay = TimeSpan.FromSeconds(1),
        DisposeTimeout = TimeSpan.FromSeconds(60),
    };
}
