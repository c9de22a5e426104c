using System.Globalization;
using System.Text.Json;
using ClP2p.TestSupport;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>One node of the JavaScript testnet, as the testnet itself describes it (the truth a crawl is checked against).</summary>
public sealed record TestnetNode(
    int Index, string Kind, string NodeId, string Enr, string? ForkDigest, string? PeerId, int? Tcp, string? AgentVersion,
    JsonElement? Status, JsonElement? Metadata, string? Group = null, string? Family = null)
{
    public bool IsConsensus => Kind != "no_eth2";
    public bool HasHost => Kind == "host";
}

/// <summary>Runs tests/interop/testnet.mjs: ChainSafe discv5 nodes on 127.0.0.1, most with a js-libp2p host serving
/// eth2 req/resp under the same key, some consensus nodes with a closed TCP port, some without an eth2 field.</summary>
public sealed class Testnet : IAsyncDisposable
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodePeer _peer = null!;

    public List<TestnetNode> Nodes { get; } = [];

    /// <summary>Behind-NAT nodes started by <see cref="StartNatNodesAsync"/> (their records carry no address).</summary>
    public List<TestnetNode> NatNodes { get; } = [];

    /// <summary>What each NAT node reported once it had run its lookup and connected: node id → (records found, connected, error).</summary>
    public Dictionary<string, (int LookupFound, bool Connected, string? Error, int Lookups)> NatDone { get; } = new(StringComparer.Ordinal);

    private TaskCompletionSource? _natDone;
    private int _natExpected;

    /// <summary>
    /// Starts <paramref name="count"/> nodes behind NAT (testnet.mjs "nat" command) that run a lookup through the node of
    /// <paramref name="crawlerEnr"/> and connect to its libp2p port; completes when each has done both (or failed).
    /// </summary>
    public async Task StartNatNodesAsync(string crawlerEnr, int count)
    {
        lock (NatDone)
        {
            _natExpected += count;
            _natDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        await _peer.SendLineAsync(JsonSerializer.Serialize(new { cmd = "nat", enr = crawlerEnr, count }));
        await _natDone.Task.WaitAsync(HangGuard);
    }

    /// <summary>
    /// A testnet of nodes by address family (testnet.mjs --families): <paramref name="v4"/> with only an IPv4 address,
    /// <paramref name="v6"/> with only an IPv6 address (::1), <paramref name="dual"/> with both; all consensus nodes with
    /// a libp2p host listening on each of their families.
    /// </summary>
    public static Task<Testnet> StartFamiliesAsync(int v4, int v6, int dual, int seed = 7) =>
        StartAsync(0, seed, ["--families", $"{v4},{v6},{dual}", "--no-eth2", "0", "--no-host", "0"]);
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

    public static async Task<Testnet> StartAsync(int nodes, int seed = 7, string[]? extra = null)
    {
        var net = new Testnet();
        net._peer = NodePeer.Start("testnet.mjs", ["--nodes", nodes.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture), .. extra ?? []], "libp2p", net.OnLine);
        await net._peer.WaitReadyAsync(net._ready.Task, "testnet.mjs");
        return net;
    }

    private void OnLine(string line)
    {
        if (line[0] != '{') return;
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        switch (r.GetProperty("type").GetString())
        {
            case "node":
                lock (Nodes)
                {
                    Nodes.Add(new TestnetNode(
                        r.GetProperty("index").GetInt32(), r.GetProperty("kind").GetString()!, r.GetProperty("nodeId").GetString()!,
                        r.GetProperty("enr").GetString()!, Str(r, "forkDigest"), Str(r, "peerId"),
                        r.TryGetProperty("tcp", out var t) ? t.GetInt32() : null, Str(r, "agentVersion"),
                        r.TryGetProperty("status", out var s) ? s.Clone() : null, r.TryGetProperty("metadata", out var m) ? m.Clone() : null,
                        Str(r, "group"), Str(r, "family")));
                }
                break;
            case "nat":
                lock (NatNodes)
                {
                    NatNodes.Add(new TestnetNode(
                        r.GetProperty("index").GetInt32(), "nat", r.GetProperty("nodeId").GetString()!, r.GetProperty("enr").GetString()!,
                        Str(r, "forkDigest"), Str(r, "peerId"), null, Str(r, "agentVersion"),
                        r.TryGetProperty("status", out var ns) ? ns.Clone() : null, r.TryGetProperty("metadata", out var nm) ? nm.Clone() : null));
                }
                break;
            case "nat-done":
                lock (NatDone)
                {
                    NatDone[r.GetProperty("nodeId").GetString()!] = (r.GetProperty("lookupFound").GetInt32(), r.GetProperty("connected").GetBoolean(), Str(r, "error"),
                        r.TryGetProperty("lookups", out var l) ? l.GetInt32() : 0);
                    if (NatDone.Count >= _natExpected) _natDone?.TrySetResult();
                }
                break;
            case "ready":
                Bootnode = r.GetProperty("bootnode").GetString()!;
                if (r.TryGetProperty("bootnodes", out var boots) && boots.ValueKind == JsonValueKind.Object)
                    foreach (var b in boots.EnumerateObject()) Bootnodes[b.Name] = b.Value.GetString()!;
                _ready.TrySetResult();
                break;
        }
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public string StdErr => _peer.Stderr;

    public ValueTask DisposeAsync() => _peer.DisposeAsync();
}
