// Where a crawl allocates: the runtime's allocation samples (one GCAllocationTick event per ~100 KB allocated) grouped
// by type and by the code that allocated (docs/performance.md, "Where a crawl allocates"). Record the crawl with
//   DOTNET_ReadyToRun=0 dotnet-trace collect --providers Microsoft-Windows-DotNETRuntime:0x1:5 -o crawl.nettrace -- clp2p crawl ...
// (without ahead-of-time code every method is JIT-compiled, so that its name reaches the trace), then:
//   dotnet run bench/tools/allocs.cs -- crawl.nettrace [frames]
// Each sample's stack is cut to its first [frames] (default 3) frames outside the runtime's allocation helpers; the
// groups print largest first, with the bytes the samples stand for.
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
foreach (var e in log.Events)
{
    if (e is not GCAllocationTickTraceData t) continue;
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
return 0;
