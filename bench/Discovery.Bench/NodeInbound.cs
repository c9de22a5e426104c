using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Discovery.Messages;
using ClP2p.Discovery.Packets;
using ClP2p.Discovery.Sessions;

namespace ClP2p.Bench;

/// <summary>
/// The cost of one node's receive path alone, over loopback:
/// <c>dotnet run -c Release --project bench/Discovery.Bench -- --node-inbound [peers] [pings-per-peer]</c>.
/// Simulated peers (raw sockets, all their crypto done before the clock starts) first draw a WHOAREYOU each, then
/// the node under test is sent one handshake per peer (record verification, id-signature check, ECDH, key
/// derivation, decryption, a PONG back) and then PINGs under the new sessions (decrypt, PONG). Prints handshakes/s
/// and packets/s of the node and the cores the process used meanwhile (CPU time / wall time): a node that handles
/// packets under one lock cannot pass one core.
/// </summary>
internal static class NodeInbound
{
    private const int Sockets = 32;

    public static async Task RunAsync(string[] args)
    {
        int peers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4000;
        int pings = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
        var key = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
        await using var node = new Discv5Node(new Discv5Options
        {
            PrivateKey = key,
            BindEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ContactFilter = ContactFilters.PublicOrLoopback,
            LivenessInterval = TimeSpan.Zero,
            MaxWhoAreYouPerIpPerSecond = int.MaxValue,
            MaxPendingChallenges = peers + 16,
            MaxSessions = peers + 16,
            ChallengeTimeout = TimeSpan.FromMinutes(10),
        });
        await node.StartAsync();
        var target = node.LocalEnr;
        var sockets = Enumerable.Range(0, Sockets).Select(_ => new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))).ToArray();
        try
        {
            // 1. one WHOAREYOU per peer (a peer per socket at a time, the sockets in parallel)
            var peerList = new Peer[peers];
            await Parallel.ForEachAsync(Enumerable.Range(0, Sockets), async (si, _) =>
            {
                var sock = sockets[si];
                var ep = (IPEndPoint)sock.Client.LocalEndPoint!;
                for (int p = si; p < peers; p += Sockets)
                {
                    var peer = new Peer(ep);
                    var buf = new byte[1280];
                    int n = PacketCodec.EncodeRandomMessage(buf, target.NodeId, Rand(16), Rand(12), peer.Id, Rand(44));
                    sock.Client.SendTo(buf.AsSpan(0, n), SocketFlags.None, node.LocalEndPoint);
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    var way = (await sock.ReceiveAsync(cts.Token)).Buffer;
                    peer.Handshake = peer.MakeHandshake(way, target);
                    peerList[p] = peer;
                }
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{peers} peers ready on {Sockets} sockets; node has {node.PendingChallengeCount} challenges pending"));

            // 2. the node takes one handshake per peer
            var hs = peerList.Select(p => (p.Handshake!, p.EndPoint)).ToList();
            var (hsWall, hsCpu, hsDone) = await Blast(node, sockets, hs, () => node.HandshakesInbound, peers);
            Report("inbound handshakes", hsDone, hsWall, hsCpu);

            // 3. PINGs under the sessions
            var packets = new List<(byte[], IPEndPoint)>(peers * pings);
            for (int i = 0; i < pings; i++)
                foreach (var p in peerList) packets.Add((p.Ping(target.NodeId, (ulong)i + 2), p.EndPoint));
            long before = node.PacketsProcessed;
            var (pWall, pCpu, pDone) = await Blast(node, sockets, packets, () => node.PacketsProcessed - before, packets.Count);
            Report("PING packets on sessions", pDone, pWall, pCpu);
            Console.WriteLine("drops: " + string.Join(", ", node.DropCounts.Select(kv => $"{kv.Key}={kv.Value}")));
            foreach (var p in peerList) p.Dispose();
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    /// <summary>Sends the packets, at most 4,000 ahead of what the node has handled (its socket buffer takes them all),
    /// and times until the node has handled them all or stops making progress for 10 s.</summary>
    private static async Task<(double Wall, double Cpu, long Done)> Blast(Discv5Node node, UdpClient[] sockets, List<(byte[] Packet, IPEndPoint From)> packets, Func<long> done, long total)
    {
        var bySocket = sockets.ToDictionary(s => ((IPEndPoint)s.Client.LocalEndPoint!).Port);
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        int sent = 0;
        long last = -1, lastChange = 0;
        while (true)
        {
            long d = done();
            while (sent < packets.Count && sent - d < 4000)
            {
                var (packet, from) = packets[sent++];
                bySocket[from.Port].Client.SendTo(packet, SocketFlags.None, node.LocalEndPoint);
            }
            if (d >= total) break;
            if (d != last) { last = d; lastChange = sw.ElapsedMilliseconds; }
            else if (sw.ElapsedMilliseconds - lastChange > 10_000) break;
            await Task.Delay(1);
        }
        sw.Stop();
        proc.Refresh();
        return (sw.Elapsed.TotalSeconds, (proc.TotalProcessorTime - cpu0).TotalSeconds, done());
    }

    private static void Report(string name, long ops, double wall, double cpu) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {ops} in {wall:F2} s = {ops / wall:F0}/s; process CPU {cpu:F2} s = {cpu / wall:F2} cores, {cpu * 1e6 / ops:F0} us CPU each"));

    private static byte[] Rand(int n)
    {
        var b = new byte[n];
        RandomNumberGenerator.Fill(b);
        return b;
    }

    private sealed class Peer : IDisposable
    {
        private readonly byte[] _key = new byte[32];
        private readonly Enr _enr;
        private readonly PacketCodec _codec;
        private Session? _session;

        public Peer(IPEndPoint ep)
        {
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, _key);
            _enr = new EnrBuilder().WithIp(ep.Address).WithUdp(ep.Port).Build(_key);
            _codec = new PacketCodec(_enr.NodeId);
            EndPoint = ep;
        }

        public NodeId Id => _enr.NodeId;
        public IPEndPoint EndPoint { get; }
        public byte[]? Handshake { get; set; }

        public byte[] MakeHandshake(byte[] whoAreYou, Enr dest)
        {
            if (!_codec.TryDecode(whoAreYou, out var v, out _) || v.Flag != PacketFlag.WhoAreYou) throw new InvalidOperationException("expected WHOAREYOU");
            var challenge = v.Header.ToArray();
            var eph = new byte[32];
            Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, eph);
            var ephPub = Secp256k1Ops.CompressedPublicKey(eph);
            var secret = new byte[33];
            Secp256k1Ops.TryEcdh(dest.ParsedPublicKey, eph, secret);
            var initiatorKey = new byte[16];
            var recipientKey = new byte[16];
            HandshakeCrypto.DeriveKeys(secret, challenge, Id, dest.NodeId, initiatorKey, recipientKey);
            var sig = new byte[64];
            HandshakeCrypto.TrySignIdNonce(_key, challenge, ephPub, dest.NodeId, sig);
            _session = new Session(initiatorKey, recipientKey, dest);
            var buf = new byte[1280];
            var ping = MessageCodec.Encode(new PingMessage(new RequestId(1, 1), 1));
            int n = PacketCodec.EncodeHandshake(buf, dest.NodeId, Rand(16), Rand(12), Id, sig, ephPub, _enr.Raw.Span, _session.WriteKey, ping);
            return buf[..n];
        }

        public byte[] Ping(NodeId dest, ulong id)
        {
            var buf = new byte[1280];
            int n = PacketCodec.EncodeMessage(buf, dest, Rand(16), Rand(12), Id, _session!.WriteKey, MessageCodec.Encode(new PingMessage(new RequestId(id, 8), 1)));
            return buf[..n];
        }

        public void Dispose()
        {
            _session?.Dispose();
            _codec.Dispose();
        }
    }
}
