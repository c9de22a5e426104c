// Counts a crawl's thread-pool work items by the code that queued them (docs/performance.md, "Fewer thread-pool work
// items"). Record the crawl with
//   dotnet-trace collect --providers System.Diagnostics.Eventing.FrameworkEventSource:0x12:5 -o crawl.nettrace -- clp2p crawl ...
// then: dotnet run bench/tools/workitems.cs -- crawl.nettrace [frames]
// Each ThreadPoolEnqueueWork event's stack is cut to its first [frames] (default 4) frames of our code or of the
// runtime below the thread pool's own; the groups print largest first.
#:package Microsoft.Diagnostics.Tracing.TraceEvent
#:property PublishAot=false
#:property NoWarn=$(NoWarn);CA1303;CA1305;CA1307;CA1310;CA1865
using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: dotnet run bench/tools/workitems.cs -- <trace.nettrace> [frames]");
    return 2;
}
int depth = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var groups = new Dictionary<string, int>(StringComparer.Ordinal);
int total = 0;
foreach (var e in log.Events)
{
    if (e.EventName != "ThreadPoolEnqueueWork") continue;
    total++;
    var frames = new List<string>();
    for (var f = e.CallStack(); f is not null && frames.Count < depth; f = f.Caller)
    {
        string m = f.CodeAddress.FullMethodName;
        if (string.IsNullOrEmpty(m)) m = "?" + f.CodeAddress.ModuleName;
        // the event's own frames and the thread pool's queueing say nothing about who queued the item
        if (m.Contains("EventSource") || m.Contains("EventPipe") || m.StartsWith("System.Threading.ThreadPool")) continue;
        if (frames.Count == 0 && (m.StartsWith("System.Threading.Tasks.") || m.Contains("AsyncTaskMethodBuilder"))) continue;
        frames.Add(m.Length > 120 ? m[..120] : m);
    }
    string key = string.Join("\n        <- ", frames);
    groups[key] = groups.GetValueOrDefault(key) + 1;
}
Console.WriteLine($"{total} thread-pool work items queued");
foreach (var (stack, n) in groups.OrderByDescending(g => g.Value).Take(30))
    Console.WriteLine($"{n,8}  {stack}\n");
return 0;
