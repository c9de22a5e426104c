using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClP2p.Discovery.Tests;

/// <summary>Runs tests/interop/discv5-net.mjs: N ChainSafe discv5 nodes on 127.0.0.1, driven over stdin/stdout.</summary>
internal sealed class JsDiscv5Net : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Dictionary<int, TaskCompletionSource<JsonObject>> _waiting = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Text.StringBuilder _stderr = new();
    private int _nextId;

    public List<Enr> Nodes { get; } = [];

    private JsDiscv5Net(Process p) => _process = p;

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

    public static async Task<JsDiscv5Net> StartAsync(int count, int links = 4, string? configJson = null)
    {
        var dir = InteropDir();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@chainsafe", "discv5")))
            throw new InvalidOperationException($"{dir}/node_modules is missing @chainsafe/discv5: run scripts/test (it installs the interop peers) or npm install in tests/interop");
        var psi = new ProcessStartInfo("node", ["discv5-net.mjs", "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--links", links.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.GetEnvironmentVariable("CLP2P_JS_DEBUG") is { Length: > 0 } dbg) psi.Environment["DEBUG"] = dbg;
        if (configJson != null) { psi.ArgumentList.Add("--config"); psi.ArgumentList.Add(configJson); }
        var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var net = new JsDiscv5Net(p);
        p.OutputDataReceived += (_, e) => net.OnLine(e.Data);
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (net._stderr) net._stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var done = await Task.WhenAny(net._ready.Task, Task.Delay(TimeSpan.FromSeconds(60)), p.WaitForExitAsync());
        if (done != net._ready.Task)
        {
            await net.DisposeAsync();
            throw new InvalidOperationException($"discv5-net.mjs did not become ready: {net.StdErr}");
        }
        return net;
    }

    public string StdErr { get { lock (_stderr) return _stderr.ToString(); } }

    private void OnLine(string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
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

    public async Task<JsonObject> CommandAsync(JsonObject cmd, TimeSpan? timeout = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        cmd["id"] = id;
        var tcs = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiting) _waiting[id] = tcs;
        await _process.StandardInput.WriteLineAsync(cmd.ToJsonString());
        await _process.StandardInput.FlushAsync();
        var done = await Task.WhenAny(tcs.Task, Task.Delay(timeout ?? TimeSpan.FromSeconds(60)));
        if (done != tcs.Task) throw new TimeoutException($"JS command {cmd.ToJsonString()} timed out; stderr: {StdErr}");
        var r = await tcs.Task;
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
        catch (InvalidOperationException) { }
        finally
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}
