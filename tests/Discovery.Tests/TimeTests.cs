using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Crypto;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

public sealed class TimeTests
{
    [Fact]
    public async Task Request_timeouts_and_retries_follow_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        await using var n = await TestNodes.Create(time: time, requestTimeout: TimeSpan.FromSeconds(1), retries: 2).StartedAsync();
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var k2 = TestNodes.NewKey();
        var enr = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(((IPEndPoint)silent.Client.LocalEndPoint!).Port).Build(k2);
        var req = n.FindNodeAsync(enr, [256]);
        await ReceiveOne(silent);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(req.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await ReceiveOne(silent); // first retry
        time.Advance(TimeSpan.FromSeconds(1));
        await ReceiveOne(silent); // second retry
        Assert.False(req.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(RequestFailure.Timeout, await req.Failure());
        Assert.Equal(3, n.PacketsSent);
    }

    private static async Task ReceiveOne(UdpClient c)
    {
        using var cts = new CancellationTokenSource(HangGuard);
        var r = await c.ReceiveAsync(cts.Token);
        Assert.InRange(r.Buffer.Length, 63, 1280);
    }
}
