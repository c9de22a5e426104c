using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>One node of the JavaScript testnet, as the testnet itself describes it (the truth a crawl is checked against).</summary>
public sealed record TestnetNode(
    int Index, string Kind, string NodeId, string Enr, string? ForkDigest, string? PeerId, int? Tcp, string? AgentVersion,
    JsonElement? Status, JsonElement? Metadata, string? Group = null)
{
    public bool IsConsensus => Kind != "no_eth2";
    public bool HasHost => Kind == "host";
}

/// <summary>Runs tests/interop/testnet.mjs: ChainSafe discv5 nodes on 127.0.0.1, most with a js-libp2p host serving
/// eth2 req/resp under the same key, some consensus nodes with a closed TCP port, some without an eth2 field.</summary>
public sealed class Testnet : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private Testnet(Process process) => _process = process;

    public List<TestnetNode> Nodes { get; } = [];
    public string Bootnode { get; private set; } = "";

    /// <summary>With a partition: each side's bootnode ("a", "b").</summary>
    public Dictionary<string, string> Bootnodes { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// A testnet two vantage points see in part (testnet.mjs --partition): <paramref name="onlyA"/> nodes reachable only
    /// from bootnode "a", <paramref name="onlyB"/> only from "b", <paramref name="both"/> from either, and
    /// <paramref name="hidden"/> nodes nobody knows. Each node's <see cref="TestnetNode.Group"/> says which.
    /// </summary>
    public static Task<Testnet> StartPartitionedAsync(int onlyA, int onlyB, int both, int hidden, int seed = 7) =>
        StartAsync(0, seed, ["--partition", string.Join(',', new[] { onlyA, onlyB, both, hidden }.Select(n => n.ToString(CultureInfo.InvariantCulture)))]);

    public static string InteropDir()
    {
        var env = Environment.GetEnvironmentVariable("CLP2P_INTEROP_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "tests", "interop");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("tests/interop not found (set CLP2P_INTEROP_DIR)");
    }

    public static async Task<Testnet> StartAsync(int nodes, int seed = 7, string[]? extra = null)
    {
        string dir = InteropDir();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "libp2p")))
            throw new InvalidOperationException($"{dir}/node_modules is missing: run scripts/test (it installs the interop peers)");
        var psi = new ProcessStartInfo("node", ["testnet.mjs", "--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture), .. extra ?? []])
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var net = new Testnet(p);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (net._stderr) net._stderr.AppendLine(e.Data); };
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { Length: > 0 } line || line[0] != '{') return;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            switch (r.GetProperty("type").GetString())
            {
                case "node":
                    lock (net.Nodes)
                    {
                        net.Nodes.Add(new TestnetNode(
                            r.GetProperty("index").GetInt32(), r.GetProperty("kind").GetString()!, r.GetProperty("nodeId").GetString()!,
                            r.GetProperty("enr").GetString()!, Str(r, "forkDigest"), Str(r, "peerId"),
                            r.TryGetProperty("tcp", out var t) ? t.GetInt32() : null, Str(r, "agentVersion"),
                            r.TryGetProperty("status", out var s) ? s.Clone() : null, r.TryGetProperty("metadata", out var m) ? m.Clone() : null,
                            Str(r, "group")));
                    }
                    break;
                case "ready":
                    net.Bootnode = r.GetProperty("bootnode").GetString()!;
                    if (r.TryGetProperty("bootnodes", out var boots) && boots.ValueKind == JsonValueKind.Object)
                        foreach (var b in boots.EnumerateObject()) net.Bootnodes[b.Name] = b.Value.GetString()!;
                    ready.TrySetResult();
                    break;
            }
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var done = await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(120)), p.WaitForExitAsync());
        if (done != ready.Task)
        {
            string err = net.StdErr;
            await net.DisposeAsync();
            throw new InvalidOperationException($"testnet.mjs did not become ready: {err}");
        }
        return net;
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public string StdErr { get { lock (_stderr) return _stderr.ToString(); } }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await _process.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }
}
