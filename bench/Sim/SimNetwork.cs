using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ClP2p.Sim;

/// <summary>
/// A whole simulated network: shard 0 in this process, further shards in child processes (`clp2p-sim worker`) when one
/// process's file-descriptor limit is not enough for the sockets.
/// </summary>
public sealed class SimNetwork : IAsyncDisposable
{
    /// <summary>File descriptors one simulator process may use for sockets (the hard limit here is 20,000).</summary>
    public const int FdBudgetPerProcess = 14_000;

    private readonly List<Process> _workers = [];
    private readonly SimShard _local;

    private SimNetwork(Population population, SimShard local)
    {
        Population = population;
        _local = local;
    }

    public Population Population { get; }

    public SimOptions Options => Population.Options;

    public string BootnodeEnr => Population.Bootnode.Enr.ToText();

    /// <summary>Unix time (ms) of the bootnode's first packet: its answer to the first packet a crawler sent it.</summary>
    public Task<long> FirstBootnodePacket => _local.FirstBootnodePacket.Task;

    public SimShard LocalShard => _local;

    /// <summary>
    /// CPU seconds (user + system) the simulator has used so far: this process (which runs shard 0, and little else
    /// while a crawl runs) and every worker process. Each run of a benchmark asks the simulator for the same work, so
    /// its CPU per crawl moves with the machine's speed alone (this virtual machine's moves by a fifth within minutes):
    /// the benchmark prints it beside the crawler's so that a slow crawl can be told from a slow machine.
    /// </summary>
    public double CpuSeconds() => Environment.CpuUsage.TotalTime.TotalSeconds + WorkersCpuSeconds();

    /// <summary>CPU seconds of the worker processes alone (see <see cref="ProcessCpuSeconds"/>).</summary>
    public double WorkersCpuSeconds()
    {
        double total = 0;
        // a worker that has exited (the network is stopping) counts nothing
        foreach (var p in _workers) total += ProcessCpuSeconds(p.Id) ?? 0;
        return total;
    }

    /// <summary>utime + stime of a running process (/proc/PID/stat fields 14 and 15, in clock ticks of 100 Hz); null
    /// when it is gone.</summary>
    public static double? ProcessCpuSeconds(int pid)
    {
        try
        {
            string s = File.ReadAllText($"/proc/{pid}/stat");
            var f = s[(s.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sockets the network needs: per live node its UDP socket and a TCP listener (a silent one also its filler), per
    /// dead endpoint three (UDP, listener, filler), plus the connections a crawl keeps open at once.
    /// </summary>
    public static int EstimateFds(SimOptions o)
    {
        int endpoints = (o.Dead + o.DeadPerEndpoint - 1) / o.DeadPerEndpoint;
        return o.Live * 2 + endpoints * 3 + 2_048;
    }

    public static async Task<SimNetwork> StartAsync(SimOptions options, Action<string>? log = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var o = options;
            if (o.IpOctet == 0 || attempt > 0) o = o with { IpOctet = Random.Shared.Next(16, 250) };
            if (o.Port == 0 || attempt > 0) o = o with { Port = Random.Shared.Next(20_000, 30_000) };
            if (o.Now == 0) o = o with { Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds() };
            if (o.Workers == 0) o = o with { Workers = Math.Max(1, (EstimateFds(o) + FdBudgetPerProcess - 1) / FdBudgetPerProcess) };
            var sw = Stopwatch.StartNew();
            var pop = Population.Build(o);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"population: {o.Records} records ({o.Live} live, {o.Dead} dead) built in {sw.Elapsed.TotalSeconds:0.0} s ({pop.BuildTimes}); {o.Workers} process(es), addresses 127.{o.IpOctet}.x.y port {o.Port}"));
            var shard = new SimShard(pop, 0, o.Workers);
            var net = new SimNetwork(pop, shard);
            try
            {
                // workers build the population and bind their sockets while this process does the same for shard 0
                for (int s = 1; s < o.Workers; s++) net._workers.Add(StartWorker(o, s));
                await shard.StartAsync().ConfigureAwait(false);
                string fingerprint = pop.Fingerprint();
                for (int s = 1; s < o.Workers; s++) await WaitReadyAsync(net._workers[s - 1], s, fingerprint).ConfigureAwait(false);
                log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"network up in {sw.Elapsed.TotalSeconds:0.0} s"));
                return net;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 3)
            {
                log?.Invoke($"address in use ({e.Message}); another address range");
                await net.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await net.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private static Process StartWorker(SimOptions o, int shard)
    {
        string dll = typeof(SimNetwork).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("worker");
        foreach (var a in o.ToArgs()) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--shard");
        psi.ArgumentList.Add(shard.ToString(CultureInfo.InvariantCulture));
        return Process.Start(psi) ?? throw new InvalidOperationException("simulator worker did not start");
    }

    private static async Task WaitReadyAsync(Process p, int shard, string fingerprint)
    {
        while (await p.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith("ready", StringComparison.Ordinal))
            {
                if (line != $"ready {fingerprint}") throw new InvalidOperationException($"simulator worker {shard} built another network ({line}, here {fingerprint})");
                return;
            }
            if (line.StartsWith("error", StringComparison.Ordinal))
            {
                if (line.Contains("in use", StringComparison.OrdinalIgnoreCase)) throw new SocketException((int)SocketError.AddressAlreadyInUse);
                throw new InvalidOperationException($"simulator worker {shard}: {line}");
            }
        }
        throw new InvalidOperationException($"simulator worker {shard} exited before it was ready");
    }

    /// <summary>The truth a crawl is compared against: one entry per record.</summary>
    public void WriteTruth(string path)
    {
        using var f = File.Create(path);
        using var w = new Utf8JsonWriter(f, new JsonWriterOptions { Indented = false });
        var o = Options;
        w.WriteStartObject();
        w.WriteNumber("records", o.Records);
        w.WriteNumber("live", o.Live);
        w.WriteNumber("dead", o.Dead);
        w.WriteString("bootnode", BootnodeEnr);
        w.WriteStartObject("options");
        w.WriteNumber("dead_fraction", o.DeadFraction);
        w.WriteNumber("dialable_fraction", o.DialableFraction);
        w.WriteNumber("slow_fraction", o.SlowFraction);
        w.WriteNumber("rtt_min_ms", o.RttMinMs);
        w.WriteNumber("rtt_max_ms", o.RttMaxMs);
        w.WriteNumber("jitter", o.Jitter);
        w.WriteNumber("loss", o.Loss);
        w.WriteNumber("dead_per_endpoint", o.DeadPerEndpoint);
        w.WriteNumber("seed", o.Seed);
        w.WriteNumber("workers", o.Workers);
        w.WriteEndObject();
        w.WriteStartArray("nodes");
        foreach (var r in Population.Records)
        {
            w.WriteStartObject();
            w.WriteString("node_id", r.NodeId.ToString());
            w.WriteString("kind", Kind(r.Kind));
            w.WriteBoolean("live", r.IsLive);
            w.WriteBoolean("dialable", r.Kind == NodeKind.Dialable);
            w.WriteString("ip", r.Ip.ToString());
            w.WriteNumber("udp", r.Udp);
            if (r.Tcp is int t) w.WriteNumber("tcp", t);
            w.WriteNumber("rtt_ms", r.RttMs);
            w.WriteBoolean("slow", r.Slow);
            if (r.Kind == NodeKind.Dialable)
            {
                w.WriteString("peer_id", r.PeerId);
                w.WriteString("agent", r.Agent);
                w.WriteString("status_fork_digest", r.ForkDigest!.Value.ToString());
                w.WriteNumber("head_slot", r.Status!.HeadSlot);
                w.WriteNumber("metadata_seq", r.MetaData!.SeqNumber);
            }
            if (r.ForkDigest is { } d) w.WriteString("fork_digest", d.ToString());
            if (r.Network != null) w.WriteString("network", r.Network);
            if (r.IsLive) w.WriteNumber("table_size", r.Table!.Sum(b => b?.Count ?? 0));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static string Kind(NodeKind k) => k switch
    {
        NodeKind.Dialable => "dialable",
        NodeKind.TcpClosed => "tcp_closed",
        NodeKind.TcpSilent => "tcp_silent",
        NodeKind.NoEth2Protocols => "no_eth2_protocols",
        NodeKind.NoEth2Field => "no_eth2_field",
        _ => "dead",
    };

    public string Describe()
    {
        var by = Population.Records.GroupBy(r => r.Kind).OrderBy(g => g.Key).Select(g => $"{Kind(g.Key)} {g.Count()}");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Options.Records} records: ").AppendJoin(", ", by);
        sb.Append(CultureInfo.InvariantCulture, $"; slow {Population.Records.Count(r => r.Slow)}; RTT {Options.RttMinMs}-{Options.RttMaxMs} ms, jitter ±{Options.Jitter:P0}, loss {Options.Loss:P1}");
        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _workers)
        {
            try
            {
                p.StandardInput.Close();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                try { await p.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { p.Kill(entireProcessTree: true); }
            }
            finally { p.Dispose(); }
        }
        await _local.DisposeAsync().ConfigureAwait(false);
    }
}
