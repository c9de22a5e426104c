using System.Globalization;

namespace ClP2p.Sim;

/// <summary>
/// Shape of a simulated network. Defaults model mainnet's consensus layer as a crawl from one vantage point sees it
/// (docs/performance.md gives the reason for each number).
/// </summary>
public sealed record SimOptions
{
    /// <summary>Records in the network: live nodes plus records of nodes that are gone.</summary>
    public int Records { get; init; } = 1_000;

    /// <summary>Share of records whose node is gone (UDP and TCP silent).</summary>
    public double DeadFraction { get; init; } = 0.5;

    /// <summary>Share of live nodes that accept a libp2p dial and answer the eth2 handshake.</summary>
    public double DialableFraction { get; init; } = 0.8;

    /// <summary>Share of live nodes whose every answer (discovery and TCP) comes after 1–3 s.</summary>
    public double SlowFraction { get; init; } = 0.02;

    public int RttMinMs { get; init; } = 50;
    public int RttMaxMs { get; init; } = 300;

    /// <summary>Per-packet jitter, as a fraction of the node's RTT (uniform ±).</summary>
    public double Jitter { get; init; } = 0.1;

    /// <summary>Probability that a datagram a node sends is lost (a TCP write: retransmitted one RTO later).</summary>
    public double Loss { get; init; } = 0.01;

    /// <summary>Dead records that share one silent endpoint (stale records of one host).</summary>
    public int DeadPerEndpoint { get; init; } = 16;

    public int Seed { get; init; } = 1;

    /// <summary>Second octet of the 127.x.y.z addresses (0: drawn at random per run).</summary>
    public int IpOctet { get; init; }

    /// <summary>UDP and TCP port of every node (0: drawn at random per run).</summary>
    public int Port { get; init; }

    /// <summary>Unix time (s) the nodes' Status and fork digests are computed for (0: now); every process uses the same.</summary>
    public long Now { get; init; }

    /// <summary>Simulator processes (0: as many as the file-descriptor limit needs).</summary>
    public int Workers { get; init; }

    /// <summary>The simulator's threads under SCHED_BATCH, so that they do not pre-empt the crawler they share the cores
    /// with (<see cref="Scheduling"/>); false: the default policy (`--sched normal`).</summary>
    public bool BatchScheduling { get; init; } = true;

    public int Dead => (int)Math.Round(Records * DeadFraction);
    public int Live => Records - Dead;

    public IEnumerable<string> ToArgs()
    {
        var c = CultureInfo.InvariantCulture;
        return
        [
            "--records", Records.ToString(c), "--dead-fraction", DeadFraction.ToString(c), "--dialable-fraction", DialableFraction.ToString(c),
            "--slow-fraction", SlowFraction.ToString(c), "--rtt", $"{RttMinMs.ToString(c)}-{RttMaxMs.ToString(c)}", "--jitter", Jitter.ToString(c),
            "--loss", Loss.ToString(c), "--dead-per-endpoint", DeadPerEndpoint.ToString(c), "--seed", Seed.ToString(c),
            "--ip-octet", IpOctet.ToString(c), "--port", Port.ToString(c), "--workers", Workers.ToString(c), "--now", Now.ToString(c),
            "--sched", BatchScheduling ? "batch" : "normal",
        ];
    }

    /// <summary>
    /// Parses simulator options; <paramref name="commandOptions"/> (with a value) and <paramref name="commandFlags"/> are
    /// the command's own and are skipped. Throws <see cref="ArgumentException"/> on an unknown option or a bad value.
    /// </summary>
    public static SimOptions Parse(IReadOnlyList<string> args, IReadOnlyCollection<string>? commandOptions = null, IReadOnlyCollection<string>? commandFlags = null)
    {
        var o = new SimOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string? Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            if (commandFlags?.Contains(args[i]) == true) continue;
            if (commandOptions?.Contains(args[i]) == true) { Next(); continue; }
            switch (args[i])
            {
                case "--records": o = o with { Records = Int(Next(), "--records", 2, 60_000) }; break;
                case "--dead-fraction": o = o with { DeadFraction = Fraction(Next(), "--dead-fraction") }; break;
                case "--dialable-fraction": o = o with { DialableFraction = Fraction(Next(), "--dialable-fraction") }; break;
                case "--slow-fraction": o = o with { SlowFraction = Fraction(Next(), "--slow-fraction") }; break;
                case "--jitter": o = o with { Jitter = Fraction(Next(), "--jitter") }; break;
                case "--loss": o = o with { Loss = Fraction(Next(), "--loss") }; break;
                case "--dead-per-endpoint": o = o with { DeadPerEndpoint = Int(Next(), "--dead-per-endpoint", 1, 1_000) }; break;
                case "--seed": o = o with { Seed = Int(Next(), "--seed", 0, int.MaxValue) }; break;
                case "--ip-octet": o = o with { IpOctet = Int(Next(), "--ip-octet", 0, 254) }; break;
                case "--port": o = o with { Port = Int(Next(), "--port", 0, 65_535) }; break;
                case "--workers": o = o with { Workers = Int(Next(), "--workers", 0, 64) }; break;
                case "--now": o = o with { Now = Int(Next(), "--now", 0, int.MaxValue) }; break;
                case "--sched":
                {
                    string v = Next()!;
                    o = o with { BatchScheduling = v switch { "batch" => true, "normal" => false, _ => throw new ArgumentException($"--sched takes batch or normal, not '{v}'") } };
                    break;
                }
                case "--rtt":
                {
                    string v = Next()!;
                    var parts = v.Split('-');
                    if (parts.Length != 2) throw new ArgumentException($"--rtt takes MIN-MAX in ms, not '{v}'");
                    int lo = Int(parts[0], "--rtt", 0, 60_000), hi = Int(parts[1], "--rtt", lo, 60_000);
                    o = o with { RttMinMs = lo, RttMaxMs = hi };
                    break;
                }
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (o.Live < 1) throw new ArgumentException("the network needs at least one live node (the bootnode)");
        return o;
    }

    private static int Int(string? v, string name, int min, int max) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n : throw new ArgumentException($"{name} must be an integer in [{min}, {max}], not '{v}'");

    private static double Fraction(string? v, string name) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d is >= 0 and <= 1
            ? d : throw new ArgumentException($"{name} must be a number in [0, 1], not '{v}'");
}
