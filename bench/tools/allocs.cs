// Where a crawl allocates: the runtime's allocation samples (one GCAllocationTick event per ~100 KB allocated) grouped
// by type and by the code that allocated (docs/performance.md, "Where a crawl allocates"). Record the crawl with
//   DOTNET_ReadyToRun=0 dotnet-trace collect --providers Microsoft-Windows-DotNETRuntime:0x1:5 -o crawl.nettrace -- clp2p crawl ...
// (without ahead-of-time code every method is JIT-compiled, so that its name reaches the trace), then:
//   dotnet run bench/tools/allocs.cs -- crawl.nettrace [frames]
// Each sample's stack is cut to its first [frames] (default 3) frames outside the runtime's allocation helpers; the
// groups print largest first, with the bytes the samples stand for. Then the collections, each with its generation and
// the runtime's reason (a full collection for "AllocLarge" is one the large-object heap's budget started), and the
// large-object allocations (85,000 bytes and more) by type and the frames that made them.
#:package Microsoft.Diagnostics.Tracing.TraceEvent
#:property PublishAot=false
#:property NoWarn=$(NoWarn);CA1303;CA1305;CA1307;CA1310;CA1865
using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: dotnet run bench/tools/allocs.cs -- <trace.nettrace> [frames]");
    return 2;
}
int depth = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byType = new Dictionary<string, long>(StringComparer.Ordinal);
var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
long total = 0;
int samples = 0;
var collections = new List<string>();
var large = new Dictionary<string, (int Count, long Bytes)>(StringComparer.Ordinal);
foreach (var e in log.Events)
{
    if (e is GCStartTraceData g)
    {
        collections.Add(string.Create(CultureInfo.InvariantCulture, $"  #{g.Count} gen{g.Depth} {g.Reason} at {e.TimeStampRelativeMSec / 1000:0.0} s"));
        continue;
    }
    if (e is not GCAllocationTickTraceData t) continue;
    if (t.AllocationKind == GCAllocationKind.Large)
    {
        // a large object is its own sample: its size, the bytes since the heap's previous sample included
        var at = new List<string>();
        for (var f = e.CallStack(); f is not null && at.Count < depth; f = f.Caller)
            if (f.CodeAddress.FullMethodName is { Length: > 0 } m) at.Add(m.Length > 110 ? m[..110] : m);
        string lkey = (t.TypeName ?? "?") + "\n        at " + string.Join("\n        <- ", at);
        var (count, sum) = large.GetValueOrDefault(lkey);
        large[lkey] = (count + 1, sum + t.ObjectSize);
    }
    samples++;
    // each event stands for the bytes allocated since the previous one on its heap (AllocationAmount64)
    long bytes = t.AllocationAmount64;
    total += bytes;
    string type = t.TypeName ?? "?";
    byType[type] = byType.GetValueOrDefault(type) + bytes;
    var frames = new List<string>();
    for (var f = e.CallStack(); f is not null && frames.Count < depth; f = f.Caller)
    {
        string m = f.CodeAddress.FullMethodName;
        if (string.IsNullOrEmpty(m)) continue;
        frames.Add(m.Length > 110 ? m[..110] : m);
    }
    string key = type + "\n        at " + string.Join("\n        <- ", frames);
    byStack[key] = byStack.GetValueOrDefault(key) + bytes;
}
Console.WriteLine($"{samples} allocation samples, {total >> 20} MB");
Console.WriteLine("by type:");
foreach (var (type, b) in byType.OrderByDescending(g => g.Value).Take(30))
    Console.WriteLine($"  {b >> 20,6} MB {100.0 * b / total,5:0.0} %  {type}");
Console.WriteLine("by type and code:");
foreach (var (stack, b) in byStack.OrderByDescending(g => g.Value).Take(40))
    Console.WriteLine($"  {b >> 20,6} MB {100.0 * b / total,5:0.0} %  {stack}");
Console.WriteLine($"collections ({collections.Count}):");
foreach (var c in collections) Console.WriteLine(c);
Console.WriteLine($"large objects ({large.Values.Sum(l => l.Count)}, {large.Values.Sum(l => l.Bytes) >> 10} KB):");
foreach (var (stack, l) in large.OrderByDescending(g => g.Value.Bytes).Take(20))
    Console.WriteLine($"  {l.Count,3} x {l.Bytes >> 10,6} KB  {stack}");
return 0;
