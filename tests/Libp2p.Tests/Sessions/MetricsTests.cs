using System.Diagnostics.Metrics;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Transport;
using ClP2p.Libp2p.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Bad input is counted with its reason.</summary>
public sealed class MetricsTests
{
    private static (MeterListener Listener, List<(string Name, long Value, Dictionary<string, object?> Tags)> Seen) Listen(Libp2pMetrics metrics)
    {
        var seen = new List<(string, long, Dictionary<string, object?>)>();
        var listener = new MeterListener();
        var meter = metrics.Meter;
        listener.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter, meter))
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            var d = new Dictionary<string, object?>();
            foreach (var t in tags)
            {
                d[t.Key] = t.Value;
            }
            lock (seen)
            {
                seen.Add((i.Name, v, d));
            }
        });
        listener.Start();
        return (listener, seen);
    }

    [Fact]
    public async Task Yamux_protocol_error_is_counted_with_its_reason()
    {
        using var metrics = new Libp2pMetrics();
        var (listener, seen) = Listen(metrics);
        using var _ = listener;
        var (a, remote) = DuplexPipe.CreatePair();
        await using var session = new YamuxSession(a, true, NullLogger.Instance, metrics);
        session.Start(s => Task.CompletedTask);
        await remote.WriteAsync(new byte[] { 7, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 });
        await session.Completion.WaitAsync(HangGuard);
        lock (seen)
        {
            Assert.Contains(seen, m => m.Name == "clp2p.libp2p.malformed" && (string?)m.Tags["protocol"] == "/yamux/1.0.0"
                && ((string?)m.Tags["reason"])!.Contains("version 7", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Failed_dial_is_counted_by_class_and_step()
    {
        using var metrics = new Libp2pMetrics();
        var (listener, seen) = Listen(metrics);
        using var _ = listener;
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1() }, metrics: metrics);
        var (a, remote) = DuplexPipe.CreatePair();
        await remote.WriteAsync(new byte[] { 0x05, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o' });
        await Assert.ThrowsAsync<DialException>(() => dialer.UpgradeOutboundAsync(a, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1), null, CancellationToken.None));
        lock (seen)
        {
            Assert.Contains(seen, m => m.Name == "clp2p.libp2p.dials" && (string?)m.Tags["outcome"] == "SecurityNegotiation" && (string?)m.Tags["step"] == "SecurityNegotiation");
        }
    }
}
