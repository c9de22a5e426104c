using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using ClP2p.Libp2p.Crypto;
using ClP2p.TestSupport;

namespace ClP2p.Libp2p.Tests.Interop;

/// <summary>Starts tests/interop/libp2p-host.mjs (js-libp2p 2.10) and talks to it over JSON lines. Kills the process tree on dispose.</summary>
public sealed class JsLibp2pHost : IAsyncDisposable
{
    public const string EchoProtocol = "/clp2p/echo/1.0.0";

    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly List<JsonElement> _skipped = [];
    private NodePeer _peer = null!;

    public PeerId PeerId { get; private set; }

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public string Multiaddr { get; private set; } = "";

    public static async Task<JsLibp2pHost> StartAsync(string keyType = "secp256k1", string? agent = null, string muxers = "yamux,mplex", string? privateKeyHex = null)
    {
        List<string> args = ["--key", keyType, "--muxers", muxers];
        if (agent is not null) args.AddRange(["--agent", agent]);
        if (privateKeyHex is not null) args.AddRange(["--private-key", privateKeyHex]);
        var host = new JsLibp2pHost();
        host._peer = NodePeer.Start("libp2p-host.mjs", args, "libp2p", host.OnLine);
        _ = host._peer.Exited.ContinueWith(_ => host._events.Writer.TryComplete(), TaskScheduler.Default);
        using var cts = new CancellationTokenSource(HangGuard);
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

    public string Stderr => _peer.Stderr;

    private void OnLine(string line)
    {
        try
        {
            _events.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
        }
        catch (JsonException)
        {
            // a log line, not an event
        }
    }

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

    public Task SendAsync(object command) => _peer.SendLineAsync(JsonSerializer.Serialize(command));

    public ValueTask DisposeAsync() => _peer.DisposeAsync();
}
