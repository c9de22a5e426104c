using System.Text.Json;
using System.Text.Json.Nodes;
using ClP2p.TestSupport;

namespace ClP2p.Discovery.Tests;

/// <summary>Runs tests/interop/discv5-net.mjs: N ChainSafe discv5 nodes on 127.0.0.1, driven over stdin/stdout.</summary>
internal sealed class JsDiscv5Net : IAsyncDisposable
{
    private readonly Dictionary<int, TaskCompletionSource<JsonObject>> _waiting = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodePeer _peer = null!;
    private int _nextId;

    public List<Enr> Nodes { get; } = [];

    public static async Task<JsDiscv5Net> StartAsync(int count, int links = 4, string? configJson = null)
    {
        var net = new JsDiscv5Net();
        List<string> args = ["--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--links", links.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (configJson != null) args.AddRange(["--config", configJson]);
        net._peer = NodePeer.Start("discv5-net.mjs", args, "@chainsafe/discv5", net.OnLine);
        await net._peer.WaitReadyAsync(net._ready.Task, "discv5-net.mjs");
        return net;
    }

    public string StdErr => _peer.Stderr;

    private void OnLine(string line)
    {
        JsonObject? o;
        try { o = JsonNode.Parse(line) as JsonObject; } catch (JsonException) { return; }
        if (o is null) return;
        if (o["ready"] is not null) { _ready.TrySetResult(); return; }
        if (o["index"] is not null && o["enr"] is not null) { lock (Nodes) Nodes.Add(Enr.Parse((string)o["enr"]!)); return; }
        if (o["id"] is JsonNode idNode)
        {
            TaskCompletionSource<JsonObject>? tcs;
            lock (_waiting) { _waiting.Remove((int)idNode, out tcs); }
            tcs?.TrySetResult(o);
        }
    }

    /// <summary>Sends a command and waits for its answer (or for <paramref name="timeout"/>, which only bounds a hang).</summary>
    public async Task<JsonObject> CommandAsync(JsonObject cmd, TimeSpan? timeout = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        cmd["id"] = id;
        var tcs = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiting) _waiting[id] = tcs;
        await _peer.SendLineAsync(cmd.ToJsonString());
        JsonObject r;
        try
        {
            r = await tcs.Task.WaitAsync(timeout ?? HangGuard);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"JS command {cmd.ToJsonString()} got no answer; stderr: {StdErr}");
        }
        if (r["error"] is JsonNode err) throw new InvalidOperationException($"JS command failed: {err}");
        return r;
    }

    public async Task<IReadOnlyList<Enr>> FindNodeAsync(int index, NodeId target)
    {
        var r = await CommandAsync(new JsonObject { ["cmd"] = "findNode", ["index"] = index, ["target"] = target.ToString() });
        return r["enrs"]!.AsArray().Select(e => Enr.Parse((string)e!)).ToList();
    }

    public async Task<bool> PingAsync(int index, Enr enr)
    {
        var r = await CommandAsync(new JsonObject { ["cmd"] = "ping", ["index"] = index, ["enr"] = enr.ToText() });
        return (bool)r["ok"]!;
    }

    public ValueTask DisposeAsync() => _peer.DisposeAsync();
}
