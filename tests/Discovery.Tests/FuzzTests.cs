using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Tests;

public sealed class FuzzTests
{
    private const int FuzzPackets = 100_000;

    [Fact]
    public async Task Node_survives_100000_random_and_mutated_packets_and_counts_every_one()
    {
        var keyN = TestNodes.NewKey();
        await using var n = await TestNodes.Create(privateKey: keyN, requestTimeout: TimeSpan.FromSeconds(1), retries: 1).StartedAsync();
        await using var p = await TestNodes.Create().StartedAsync();

        // 1. capture real traffic P -> N through a relay: P sees a record of N (signed with N's key) naming the relay
        using var relay = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var relayEp = (IPEndPoint)relay.Client.LocalEndPoint!;
        var nViaRelay = new EnrBuilder().WithSeq(n.LocalEnr.Seq + 1).WithIp(IPAddress.Loopback).WithUdp(relayEp.Port).Build(keyN);
        var captured = new List<byte[]>();
        using var relayCts = new CancellationTokenSource();
        var relayTask = Task.Run(async () =>
        {
            while (!relayCts.IsCancellationRequested)
            {
                UdpReceiveResult r;
                try { r = await relay.ReceiveAsync(relayCts.Token); } catch (OperationCanceledException) { break; }
                if (r.RemoteEndPoint.Equals(p.LocalEndPoint))
                {
                    lock (captured) captured.Add(r.Buffer);
                    await relay.SendAsync(r.Buffer, n.LocalEndPoint);
                }
                else if (r.RemoteEndPoint.Equals(n.LocalEndPoint))
                {
                    await relay.SendAsync(r.Buffer, p.LocalEndPoint);
                }
            }
        });
        await p.PingAsync(nViaRelay).Ok();
        Assert.Single(await p.FindNodeAsync(nViaRelay, [0]).Ok());
        await p.TalkAsync(nViaRelay, "t"u8.ToArray(), new byte[40]).Ok();
        await relayCts.CancelAsync();
        await relayTask;
        byte[][] seeds;
        lock (captured) seeds = [.. captured];
        Assert.True(seeds.Length >= 4, $"captured {seeds.Length} packets");

        // 2. fuzz from the relay's address (the one N holds a session for), paced so the kernel drops nothing
        long before = n.PacketsReceived;
        var rnd = new Random(1234);
        var drain = new byte[2048];
        int sent = 0;
        while (sent < FuzzPackets)
        {
            for (int i = 0; i < 500 && sent < FuzzPackets; i++, sent++)
                relay.Client.SendTo(Mutate(rnd, seeds), n.LocalEndPoint);
            await n.UntilAsync(() => n.PacketsReceived - before >= sent - 200);
            while (relay.Available > 0) relay.Client.Receive(drain);
        }
        await n.UntilAsync(() => n.PacketsReceived - before >= FuzzPackets);
        Assert.Equal(FuzzPackets, n.PacketsReceived - before);

        // 3. every packet is accounted for, and the node still answers
        var drops = n.DropCounts;
        Assert.Equal(n.PacketsReceived, n.PacketsProcessed + drops.Values.Sum());
        Assert.DoesNotContain("internal-error", drops.Keys);
        Assert.True(drops.Count >= 4, string.Join(", ", drops));
        await using var q = TestNodes.Create();
        await q.StartAsync();
        await q.PingAsync(n.LocalEnr).Ok();
        Assert.True(n.PendingChallengeCount <= 4096);
    }

    private static byte[] Mutate(Random rnd, byte[][] seeds)
    {
        int kind = rnd.Next(10);
        if (kind == 0)
        {
            var b = new byte[rnd.Next(0, 1400)];
            rnd.NextBytes(b);
            return b;
        }
        var s = (byte[])seeds[rnd.Next(seeds.Length)].Clone();
        switch (kind)
        {
            case 1: return s; // replay
            case 2: return s[..rnd.Next(0, s.Length)]; // truncate
            case 3:
                {
                    var b = new byte[s.Length + rnd.Next(1, 400)];
                    s.CopyTo(b, 0);
                    rnd.NextBytes(b.AsSpan(s.Length));
                    return b;
                }
            case 4:
                // flip bits in the masked header region
                for (int i = rnd.Next(1, 4); i > 0; i--) s[16 + rnd.Next(Math.Min(60, s.Length - 16))] ^= (byte)(1 << rnd.Next(8));
                return s;
            case 5:
                // corrupt the message part
                s[rnd.Next(s.Length)] ^= (byte)rnd.Next(1, 256);
                return s;
            case 6:
                // random masking iv: header unmasks to garbage
                rnd.NextBytes(s.AsSpan(0, 16));
                return s;
            case 7:
                {
                    var b = new byte[rnd.Next(1281, 2000)];
                    rnd.NextBytes(b);
                    return b;
                }
            default:
                for (int i = rnd.Next(1, 8); i > 0; i--) s[rnd.Next(s.Length)] = (byte)rnd.Next(256);
                return s;
        }
    }
}
