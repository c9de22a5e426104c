using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p.Tests.Interop;

/// <summary>Starts tests/interop/libp2p-host.mjs (js-libp2p 2.10) and talks to it over JSON lines. Kills the process tree on dispose.</summary>
public sealed class JsLibp2pHost : IAsyncDisposable
{
    public const string EchoProtocol = "/clp2p/echo/1.0.0";

    private readonly Process _process;
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly List<string> _stderr = [];
    private readonly List<JsonElement> _skipped = [];

    private JsLibp2pHost(Process process)
    {
        _process = process;
    }

    public PeerId PeerId { get; private set; }

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public string Multiaddr { get; private set; } = "";

    public static string InteropDir()
    {
        var env = Environment.GetEnvironmentVariable("CLP2P_INTEROP_DIR");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/interop not found; set CLP2P_INTEROP_DIR");
    }

    public static async Task<JsLibp2pHost> StartAsync(string keyType = "secp256k1", string? agent = null, string muxers = "yamux,mplex", string? privateKeyHex = null)
    {
        string dir = InteropDir();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "libp2p")))
        {
            throw new InvalidOperationException($"node_modules missing in {dir}: run scripts/test (it installs the interop peers) or npm install there");
        }
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("libp2p-host.mjs");
        psi.ArgumentList.Add("--key");
        psi.ArgumentList.Add(keyType);
        psi.ArgumentList.Add("--muxers");
        psi.ArgumentList.Add(muxers);
        if (agent is not null)
        {
            psi.ArgumentList.Add("--agent");
            psi.ArgumentList.Add(agent);
        }
        if (privateKeyHex is not null)
        {
            psi.ArgumentList.Add("--private-key");
            psi.ArgumentList.Add(privateKeyHex);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var host = new JsLibp2pHost(process);
        _ = Task.Run(host.PumpStdoutAsync);
        _ = Task.Run(host.PumpStderrAsync);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var listening = await host.NextEventAsync("listening", cts.Token);
            host.PeerId = PeerId.Parse(listening.GetProperty("peerId").GetString()!);
            host.Multiaddr = listening.GetProperty("multiaddr").GetString()!;
            host.EndPoint = new IPEndPoint(IPAddress.Loopback, listening.GetProperty("port").GetInt32());
            return host;
        }
        catch (Exception e) when (e is TimeoutException or ChannelClosedException)
        {
            string err = host.Stderr;
            await host.DisposeAsync();
            throw new InvalidOperationException("js libp2p host did not start: " + err, e);
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    private async Task PumpStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            try
            {
                _events.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
            }
            catch (JsonException)
            {
                // not an event line
            }
        }
        _events.Writer.TryComplete();
    }

    private async Task PumpStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            lock (_stderr)
            {
                _stderr.Add(line);
            }
        }
    }

    /// <summary>Waits for the next event of the given kind; events of other kinds are kept for later calls.</summary>
    public async Task<JsonElement> NextEventAsync(string kind, CancellationToken ct)
    {
        int i = _skipped.FindIndex(e => e.GetProperty("event").GetString() == kind);
        if (i >= 0)
        {
            var found = _skipped[i];
            _skipped.RemoveAt(i);
            return found;
        }
        while (true)
        {
            JsonElement e;
            try
            {
                e = await _events.Reader.ReadAsync(ct);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no '{kind}' event from the js host; stderr: {Stderr}");
            }
            if (e.GetProperty("event").GetString() == kind)
            {
                return e;
            }
            _skipped.Add(e);
        }
    }

    public async Task SendAsync(object command)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
        _process.Dispose();
    }
}
