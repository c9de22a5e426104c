using System.Net;
using BenchmarkDotNet.Attributes;
using ClP2p.Discovery.Handler;

namespace ClP2p.Bench;

/// <summary>
/// One consultation of a per-IP limiter, over 1,024 source addresses in turn (budgets never spent):
/// <c>dotnet run -c Release --project bench/Discovery.Bench -- --filter '*RateLimiterBenchmarks*' --job short</c>.
/// The same limiter (a lock-free table) serves unsolicited packets and WHOAREYOUs.
/// </summary>
[MemoryDiagnoser]
public class RateLimiterBenchmarks
{
    private readonly IPAddress[] _ips = Enumerable.Range(0, 1024).Select(i => new IPAddress(BitConverter.GetBytes(0x0A000000 + i * 7919))).ToArray();
    private readonly UnsolicitedLimiter _unsolicited = new(int.MaxValue - 1, limitLoopback: true, TimeProvider.System);
    private int _next;

    [Benchmark(Description = "unsolicited limiter Allow")]
    public bool Unsolicited() => _unsolicited.Allow(_ips[_next++ & 1023], TimeProvider.System.GetTimestamp());
}
