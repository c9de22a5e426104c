using System.Net;
using Microsoft.Extensions.Logging;

namespace ClP2p.Discovery.Handler;

/// <summary>
/// The node's counters, written by the socket and every handler shard (Interlocked), read by the public properties of
/// <see cref="Discv5Node"/>. A packet is counted as received when it has been handled, in the same step as its
/// outcome, so received = processed + drops holds whenever no packet is between the socket and a shard.
/// </summary>
internal sealed partial class Discv5Counters(ILogger log)
{
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _recordDrops = new long[Enum.GetValues<RecordDropReason>().Length];
    public long Received, Processed, Sent, SendErrors, HandshakesIn, HandshakesOut, LateAnswers, TimeoutsDeferred, ChallengesOverBound, RetriesAfterDrops;
    /// <summary>Requests waiting for an answer (not those kept after a timeout for a late answer).</summary>
    public long LiveRequests;
    public long Sessions, Challenges;

    /// <summary>Raised on the handling thread after each packet's outcome is counted, so a test waits for the packets
    /// it sent instead of polling the counters.</summary>
    public event Action? PacketHandled;

    public void Handled(DropReason outcome, IPEndPoint from)
    {
        if (outcome == DropReason.None)
        {
            Interlocked.Increment(ref Processed);
        }
        else
        {
            Interlocked.Increment(ref _drops[(int)outcome]);
            Discv5Metrics.PacketsDropped.Add(1, new KeyValuePair<string, object?>("reason", DropNames[(int)outcome]));
            LogDrop(log, outcome, from);
        }
        Interlocked.Increment(ref Received);
        Discv5Metrics.PacketsReceived.Add(1);
        PacketHandled?.Invoke();
    }

    public void RecordDropped(RecordDropReason reason, NodeId from)
    {
        Interlocked.Increment(ref _recordDrops[(int)reason]);
        Discv5Metrics.RecordsDropped.Add(1, new KeyValuePair<string, object?>("reason", RecordDropNames[(int)reason]));
        LogRecordDrop(log, reason, from);
    }

    public IReadOnlyDictionary<string, long> Drops()
    {
        var d = new Dictionary<string, long>();
        foreach (var r in Enum.GetValues<DropReason>())
            if (r != DropReason.None && Interlocked.Read(ref _drops[(int)r]) is long n and > 0) d[Kebab(r.ToString())] = n;
        return d;
    }

    public IReadOnlyDictionary<string, long> RecordDrops()
    {
        var d = new Dictionary<string, long>();
        foreach (var r in Enum.GetValues<RecordDropReason>())
            if (Interlocked.Read(ref _recordDrops[(int)r]) is long n and > 0) d[Kebab(r.ToString())] = n;
        return d;
    }

    // the metric tag of each reason, made once: a crawl drops tens of thousands of packets (late answers, repeats), and
    // each drop built its tag string anew
    private static readonly string[] DropNames = Enum.GetValues<DropReason>().Select(r => Kebab(r.ToString())).ToArray();
    private static readonly string[] RecordDropNames = Enum.GetValues<RecordDropReason>().Select(r => Kebab(r.ToString())).ToArray();

    public static string Kebab(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length + 8);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsUpper(s[i]) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(s[i]));
        }
        return sb.ToString();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "dropped packet from {From}: {Reason}")]
    private static partial void LogDrop(ILogger logger, DropReason reason, IPEndPoint from);

    [LoggerMessage(Level = LogLevel.Debug, Message = "dropped record from {From} in NODES: {Reason}")]
    private static partial void LogRecordDrop(ILogger logger, RecordDropReason reason, NodeId from);
}
