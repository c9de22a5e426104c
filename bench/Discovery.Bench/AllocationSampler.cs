using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace ClP2p.Bench;

/// <summary>
/// Which types a benchmark allocates, from the runtime's AllocationTick events (one per ~100 KB allocated, naming the
/// type of the allocation that crossed the mark): <c>BENCH_ALLOC=1</c> prints the top types by sampled bytes.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null) return;
        int ti = e.PayloadNames!.IndexOf("TypeName"), ai = e.PayloadNames.IndexOf("AllocationAmount64");
        if (ti < 0 || ai < 0) return;
        _bytes.AddOrUpdate((string)e.Payload[ti]!, Convert.ToInt64(e.Payload[ai]), (_, v) => v + Convert.ToInt64(e.Payload[ai]));
    }

    public void Print(int top = 25)
    {
        long total = _bytes.Values.Sum();
        foreach (var (t, b) in _bytes.OrderByDescending(kv => kv.Value).Take(top))
            Console.WriteLine($"{100.0 * b / Math.Max(1, total),6:F1} %  {t}");
    }
}
