using System.Buffers.Binary;
using System.Net;
using System.Numerics;
using ClP2p.Discovery;
using ClP2p.Discovery.Crypto;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Sim;

/// <summary>What a record stands for on the simulated network.</summary>
public enum NodeKind
{
    /// <summary>Answers discovery, accepts a libp2p dial and the eth2 handshake.</summary>
    Dialable,
    /// <summary>Answers discovery; its TCP port refuses connections.</summary>
    TcpClosed,
    /// <summary>Answers discovery; its TCP port drops SYNs (a dial ends only by timeout).</summary>
    TcpSilent,
    /// <summary>Answers discovery and libp2p (identify, ping) but serves no eth2 protocol.</summary>
    NoEth2Protocols,
    /// <summary>Answers discovery; its record has no eth2 field (not a consensus-layer node).</summary>
    NoEth2Field,
    /// <summary>The node is gone: UDP and TCP silent.</summary>
    Dead,
}

/// <summary>One record of the simulated network and the truth about the node behind it.</summary>
public sealed class SimRecord
{
    public required int Index { get; init; }
    public required NodeKind Kind { get; init; }
    public required byte[] PrivateKey { get; init; }
    public required NodeId NodeId { get; init; }
    public required IPAddress Ip { get; init; }
    public required int Udp { get; init; }
    public int? Tcp { get; init; }
    public required Dictionary<string, byte[]> Entries { get; init; }
    public Enr Enr { get; set; } = null!;
    /// <summary>Round trip added to everything the node sends (1–3 s for slow nodes).</summary>
    public int RttMs { get; init; }
    public bool Slow { get; init; }
    public string? Agent { get; init; }
    public string? Network { get; init; }
    public ForkDigest? ForkDigest { get; init; }
    public StatusMessage? Status { get; init; }
    public MetaDataMessage? MetaData { get; init; }
    /// <summary>Dead records: the silent endpoint they share.</summary>
    public int Endpoint { get; init; } = -1;
    /// <summary>Live nodes: the routing table, as indexes of records.</summary>
    public List<int>[]? Table { get; set; }

    public bool IsLive => Kind != NodeKind.Dead;
    public bool HasEth2 => Kind != NodeKind.NoEth2Field;
    public ulong Top => BinaryPrimitives.ReadUInt64BigEndian(NodeId.ToByteArray());
    public string PeerId => Identity.FromSecp256k1PrivateKey(PrivateKey).PeerId.ToString();
}

/// <summary>
/// The whole simulated network, computed deterministically from <see cref="SimOptions"/> (every simulator process
/// computes the same one and starts its share): records, their keys and ENRs, what each node is and answers, and
/// each live node's Kademlia table.
/// </summary>
public sealed class Population
{
    private static readonly (string Client, double Share, string Agent)[] Clients =
    [
        ("lighthouse", 0.40, "Lighthouse/v7.1.0-e42406d/x86_64-linux"),
        ("prysm", 0.30, "Prysm/v6.0.4/6f0a4a7bd2b9b8d4b7c7c4a8b26c7f1e0e6d2c8f"),
        ("teku", 0.12, "teku/v25.6.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21"),
        ("nimbus", 0.08, "nimbus"),
        ("lodestar", 0.05, "lodestar/v1.31.0/f0a3a8b/linux/x64"),
        ("grandine", 0.03, "Grandine/1.1.0-a23b6c5/x86_64-linux"),
        ("erigon", 0.02, "erigon/caplin"),
    ];

    public SimOptions Options { get; }
    public IReadOnlyList<SimRecord> Records { get; }
    public int EndpointCount { get; }
    public SimRecord Bootnode => Records[0];
    public string BuildTimes { get; private set; } = "";

    private Population(SimOptions options, SimRecord[] records, int endpoints)
    {
        Options = options;
        Records = records;
        EndpointCount = endpoints;
    }

    /// <summary>The loopback address of address slot <paramref name="slot"/> (live node i has slot i, dead endpoint e slot live + e).</summary>
    public static IPAddress Address(int octet, int slot) =>
        new([127, (byte)octet, (byte)(slot / 254), (byte)(slot % 254 + 1)]);

    public static Population Build(SimOptions o)
    {
        if (o.IpOctet == 0 || o.Port == 0 || o.Now == 0) throw new ArgumentException("resolve IpOctet, Port and Now first");
        var rng = new Random(o.Seed);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int live = o.Live, dead = o.Dead;
        int endpoints = dead == 0 ? 0 : (dead + o.DeadPerEndpoint - 1) / o.DeadPerEndpoint;
        if (live + endpoints > 254 * 256) throw new ArgumentException("too many records for one 127.x.0.0/16");

        // kinds of live nodes: the bootnode is dialable; the rest of the non-dialable share is split evenly
        int dialable = Math.Max(1, (int)Math.Round(live * o.DialableFraction));
        var kinds = new NodeKind[live];
        var others = new[] { NodeKind.TcpClosed, NodeKind.TcpSilent, NodeKind.NoEth2Protocols, NodeKind.NoEth2Field };
        for (int i = 0; i < live; i++) kinds[i] = i < dialable ? NodeKind.Dialable : others[(i - dialable) % others.Length];
        Shuffle(rng, kinds.AsSpan(1));
        int slow = (int)Math.Round(live * o.SlowFraction);
        var slowSet = new HashSet<int>();
        while (slowSet.Count < Math.Min(slow, live - 1)) slowSet.Add(1 + rng.Next(live - 1));

        var registry = NetworkRegistry.Builtin;
        var now = DateTimeOffset.FromUnixTimeSeconds(o.Now);
        var mainnet = registry.Get("mainnet");
        var forks = new List<(double Share, Eth2Network Net, ulong Epoch)>
        {
            (0.90, mainnet, mainnet.GetEpoch(now)),
            (0.05, mainnet, PreviousForkEpoch(mainnet, now)),
            (0.03, registry.Get("hoodi"), registry.Get("hoodi").GetEpoch(now)),
            (0.02, registry.Get("sepolia"), registry.Get("sepolia").GetEpoch(now)),
        };

        var records = new SimRecord[live + dead];
        var keys = new byte[live + dead][];
        for (int i = 0; i < keys.Length; i++)
        {
            var k = new byte[32];
            do rng.NextBytes(k); while (!Secp256k1Ops.IsValidPrivateKey(k));
            keys[i] = k;
        }
        var tKeys = sw.Elapsed;
        Span<byte> pub = stackalloc byte[64];
        for (int i = 0; i < live + dead; i++)
        {
            bool isLive = i < live;
            var kind = isLive ? kinds[i] : NodeKind.Dead;
            int endpoint = isLive ? -1 : (i - live) / o.DeadPerEndpoint;
            var ip = Address(o.IpOctet, isLive ? i : live + endpoint);
            bool isSlow = slowSet.Contains(i);
            int rtt = isSlow ? rng.Next(1000, 3001) : rng.Next(o.RttMinMs, o.RttMaxMs + 1);
            var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            string? agent = null, network = null;
            ForkDigest? digest = null;
            StatusMessage? status = null;
            MetaDataMessage? meta = null;
            int? tcp = null;
            if (kind != NodeKind.NoEth2Field)
            {
                var (net, epoch) = Pick(rng, forks);
                var forkId = net.GetEnrForkId(epoch);
                digest = forkId.ForkDigest;
                network = net.Name;
                entries[Eth2EnrFields.Eth2Key] = forkId.ToArray();
                var attnets = new byte[8];
                attnets[rng.Next(8)] = (byte)(1 << rng.Next(8));
                attnets[rng.Next(8)] |= (byte)(1 << rng.Next(8));
                entries[Eth2EnrFields.AttnetsKey] = attnets;
                entries[Eth2EnrFields.SyncnetsKey] = [(byte)rng.Next(16)];
                ulong cgc = rng.NextDouble() < 0.8 ? 4UL : rng.NextDouble() < 0.5 ? 8UL : 128UL;
                entries[Eth2EnrFields.CustodyGroupCountKey] = BigEndianMinimal(cgc);
                var (_, share, a) = Clients[PickIndex(rng, Clients.Select(c => c.Share))];
                _ = share;
                agent = a;
                ulong head = net.GetSlot(now) - (ulong)rng.Next(0, 32);
                status = new StatusMessage(digest.Value, RandomRoot(rng), head / net.SlotsPerEpoch - 2, RandomRoot(rng), head, (ulong)rng.Next(0, 1_000_000));
                meta = new MetaDataMessage((ulong)rng.Next(1, 500), AttestationSubnets.Read(attnets), default, cgc);
            }
            tcp = o.Port;
            entries["tcp"] = BigEndianMinimal((ulong)o.Port);
            Secp256k1Ops.TryCreatePublicKey(keys[i], pub);
            records[i] = new SimRecord
            {
                Index = i, Kind = kind, PrivateKey = keys[i], NodeId = Secp256k1Ops.NodeIdOf(pub), Ip = ip, Udp = o.Port, Tcp = tcp,
                Entries = entries, RttMs = rtt, Slow = isSlow, Agent = agent, Network = network, ForkDigest = digest, Status = status,
                MetaData = meta, Endpoint = endpoint,
            };
        }
        var tRecords = sw.Elapsed;
        // ENRs exactly as Discv5Node builds its local record (RFC 6979 signatures are deterministic: same bytes)
        Parallel.For(0, records.Length, i => records[i].Enr = BuildEnr(records[i]));
        var tEnrs = sw.Elapsed;
        var pop = new Population(o, records, endpoints);
        pop.FillTables(rng);
        pop.BuildTimes = $"keys {tKeys.TotalSeconds:0.00} s, records {(tRecords - tKeys).TotalSeconds:0.00} s, ENRs {(tEnrs - tRecords).TotalSeconds:0.00} s, tables {(sw.Elapsed - tEnrs).TotalSeconds:0.00} s";
        return pop;
    }

    /// <summary>A digest of everything a process derives from the options (records, answers, tables): the simulator's
    /// processes must agree on it, or their nodes would answer with facts the ground truth does not have.</summary>
    public string Fingerprint()
    {
        ulong h = 14695981039346656037UL;
        void Mix(ReadOnlySpan<byte> b) { foreach (byte x in b) h = (h ^ x) * 1099511628211UL; }
        Span<byte> n = stackalloc byte[8];
        foreach (var r in Records)
        {
            Mix(r.Enr.Raw.Span);
            BinaryPrimitives.WriteUInt64LittleEndian(n, (r.Status?.HeadSlot ?? 0) ^ ((ulong)r.RttMs << 40) ^ (r.MetaData?.SeqNumber ?? 0));
            Mix(n);
            if (r.Table != null)
                foreach (var b in r.Table)
                    if (b != null)
                        foreach (int j in b) { BinaryPrimitives.WriteInt32LittleEndian(n, j); Mix(n[..4]); }
        }
        return h.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    public static Enr BuildEnr(SimRecord r)
    {
        var b = new EnrBuilder().WithSeq(1);
        foreach (var (k, v) in r.Entries) b.With(k, v);
        b.WithIp(r.Ip).WithUdp(r.Udp);
        return b.Build(r.PrivateKey);
    }

    private static ulong PreviousForkEpoch(Eth2Network net, DateTimeOffset now)
    {
        var current = net.GetCurrentFork(now);
        return current.Epoch > 0 ? current.Epoch - 1 : 0;
    }

    private static (Eth2Network, ulong) Pick(Random rng, List<(double Share, Eth2Network Net, ulong Epoch)> forks)
    {
        var f = forks[PickIndex(rng, forks.Select(x => x.Share))];
        return (f.Net, f.Epoch);
    }

    private static int PickIndex(Random rng, IEnumerable<double> shares)
    {
        double x = rng.NextDouble(), acc = 0;
        int i = 0, last = 0;
        foreach (var s in shares)
        {
            acc += s;
            if (x < acc) return i;
            last = i++;
        }
        return last;
    }

    private static Root RandomRoot(Random rng)
    {
        Span<byte> b = stackalloc byte[32];
        rng.NextBytes(b);
        return Root.Read(b);
    }

    private static byte[] BigEndianMinimal(ulong v)
    {
        if (v == 0) return [];
        int n = 8 - BitOperations.LeadingZeroCount(v) / 8;
        var b = new byte[n];
        for (int i = n - 1; i >= 0; i--) { b[i] = (byte)v; v >>= 8; }
        return b;
    }

    private static void Shuffle<T>(Random rng, Span<T> s)
    {
        for (int i = s.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (s[i], s[j]) = (s[j], s[i]);
        }
    }

    /// <summary>
    /// Fills every live node's k-buckets (k = 16, discv5-theory.md "Routing Table") with records drawn at random from
    /// those at each log distance, live and dead alike (a crawl meets dead records in tables in the proportion they
    /// exist). Then makes every record reachable from the bootnode: a record no reached table holds goes into a reached
    /// node's bucket that has room, or replaces an entry that other tables also hold.
    /// </summary>
    private void FillTables(Random rng)
    {
        var all = (SimRecord[])Records;
        int n = all.Length;
        var order = Enumerable.Range(0, n).ToArray();
        var tops = all.Select(r => r.Top).ToArray();
        Array.Sort(tops, order);
        var inDegree = new int[n];
        foreach (var r in all)
        {
            if (!r.IsLive) continue;
            var table = new List<int>[256];
            ulong x = r.Top;
            for (int shared = 0; shared < 64; shared++)
            {
                // records at log distance 256 - shared: equal on the first `shared` bits, different at the next one
                int rest = 63 - shared;
                ulong prefix = ((x >> rest) ^ 1UL) << rest;
                ulong hi = rest == 63 ? prefix | 0x7FFF_FFFF_FFFF_FFFFUL : prefix | ((1UL << rest) - 1);
                int lo = LowerBound(tops, prefix), end = UpperBound(tops, hi);
                int count = end - lo;
                if (count <= 0) continue;
                var bucket = new List<int>(Math.Min(16, count));
                if (count <= 16) for (int j = lo; j < end; j++) bucket.Add(order[j]);
                else
                {
                    var picked = new HashSet<int>();
                    for (int j = count - 16; j < count; j++)
                    {
                        int t = rng.Next(j + 1);
                        if (!picked.Add(t)) picked.Add(j);
                    }
                    foreach (int t in picked) bucket.Add(order[lo + t]);
                }
                foreach (int idx in bucket) inDegree[idx]++;
                table[255 - shared] = bucket;
            }
            r.Table = table;
        }
        // reachability from the bootnode: BFS over live tables, insert what is missing, check again
        for (int round = 0; ; round++)
        {
            var reached = new bool[n];
            var reachedLive = new List<int>();
            var queue = new Queue<int>();
            reached[0] = true;
            queue.Enqueue(0);
            while (queue.Count > 0)
            {
                int i = queue.Dequeue();
                reachedLive.Add(i);
                foreach (var b in all[i].Table!)
                    if (b != null)
                        foreach (int j in b)
                            if (!reached[j]) { reached[j] = true; if (all[j].IsLive) queue.Enqueue(j); }
            }
            var missing = Enumerable.Range(0, n).Where(i => !reached[i]).ToList();
            if (missing.Count == 0) return;
            if (round == 20) throw new InvalidOperationException($"{missing.Count} records stay unreachable from the bootnode");
            foreach (int m in missing) Insert(rng, all, reachedLive, inDegree, m);
        }
    }

    private static void Insert(Random rng, SimRecord[] all, List<int> reachedLive, int[] inDegree, int target)
    {
        for (int attempt = 0; ; attempt++)
        {
            var host = all[reachedLive[rng.Next(reachedLive.Count)]];
            int d = NodeId.LogDistance(host.NodeId, all[target].NodeId);
            if (d == 0) continue;
            var bucket = host.Table![d - 1] ??= [];
            if (bucket.Count < 16) { bucket.Add(target); inDegree[target]++; return; }
            if (attempt < 64) continue;
            for (int j = 0; j < bucket.Count; j++)
            {
                if (inDegree[bucket[j]] < 2) continue;
                inDegree[bucket[j]]--;
                bucket[j] = target;
                inDegree[target]++;
                return;
            }
        }
    }

    private static int LowerBound(ulong[] a, ulong v)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi) { int m = (lo + hi) >>> 1; if (a[m] < v) lo = m + 1; else hi = m; }
        return lo;
    }

    private static int UpperBound(ulong[] a, ulong v)
    {
        int lo = 0, hi = a.Length;
        while (lo < hi) { int m = (lo + hi) >>> 1; if (a[m] <= v) lo = m + 1; else hi = m; }
        return lo;
    }
}
