using System.Text.Json;
using System.Text.Json.Nodes;
using ClP2p.TestSupport;

namespace ClP2p.Eth2.Tests;

/// <summary>
/// Starts tests/interop/eth2-host.mjs once with several js-libp2p eth2 hosts (one node process), collects its JSON
/// events, and kills the process tree on dispose.
/// </summary>
public sealed class Eth2HostFixture : IAsyncLifetime
{
    public const string SecpKeyA = "0e3f2b4a5c6d7e8f90112233445566778899aabbccddeeff0011223344556677";
    public const string SecpKeyB = "1f2e3d4c5b6a79880706050403020100ffeeddccbbaa99887766554433221100";
    public const string SecpKeyC = "2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243444546474849";

    public static readonly JsonObject StatusA = new()
    {
        ["forkDigest"] = "8c9f62fe",
        ["finalizedRoot"] = "d62a74ae0f933224133c5e6e1827baf6d7b0c2bfcb8b0d80f6ec8bb9dbaa2f7b",
        ["finalizedEpoch"] = 437120,
        ["headRoot"] = "4f0e5b8f3f6d4a1c2b3a49587766554433221100ffeeddccbbaa998877665544",
        ["headSlot"] = 13988100,
        ["earliestAvailableSlot"] = 13500000,
    };

    public static readonly JsonObject MetaDataA = new()
    {
        ["seqNumber"] = 5,
        ["attnets"] = "0100000000000080",
        ["syncnets"] = "02",
        ["custodyGroupCount"] = 8,
    };

    private readonly List<JsonObject> _events = [];
    private readonly List<(Func<JsonObject, bool> Match, TaskCompletionSource<JsonObject> Found)> _waiters = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NodePeer? _peer;

    public Dictionary<string, (string PeerId, int Port)> Hosts { get; } = [];

    public static JsonArray Configs()
    {
        JsonObject Host(string name, string keyType, string? key, string muxer, string agent, string mode = "normal", string digest = "8c9f62fe", bool probe = false)
        {
            var status = (JsonObject)StatusA.DeepClone();
            status["forkDigest"] = digest;
            var o = new JsonObject
            {
                ["name"] = name, ["keyType"] = keyType, ["muxers"] = new JsonArray(muxer), ["agentVersion"] = agent,
                ["status"] = status, ["metadata"] = MetaDataA.DeepClone(), ["mode"] = mode, ["probeBack"] = probe,
            };
            if (key is not null) o["privateKeyHex"] = key;
            return o;
        }
        return
        [
            Host("yamux-secp", "secp256k1", SecpKeyA, "yamux", "Lighthouse/v8.0.1-e42406d/x86_64-linux", probe: true),
            Host("mplex-secp", "secp256k1", SecpKeyB, "mplex", "teku/teku/v25.6.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21"),
            Host("yamux-ed25519", "ed25519", null, "yamux", "nimbus"),
            Host("mplex-ed25519", "ed25519", null, "mplex", "js-libp2p/2.10.0", digest: "cb0d1acc"),
            Host("v1only", "secp256k1", SecpKeyC, "yamux", "Prysm/v5.1.0/1c3a5f9d63a44d3630d4e2e008d1b0a82b4e29f0", mode: "v1only"),
            Host("goodbye129", "secp256k1", null, "yamux", "Lighthouse/v7.0.0/x86_64-linux", mode: "goodbye129"),
            Host("reject", "secp256k1", null, "yamux", "rust-libp2p/0.54.0", mode: "reject"),
            Host("bomb", "secp256k1", null, "mplex", "bomb/v1.0.0", mode: "bomb"),
            Host("garbage", "ed25519", null, "yamux", "garbage/v1.0.0", mode: "garbage"),
            // Strict about the Status digest, as real clients are: one still on mainnet's bpo1, one on mainnet's current bpo2.
            Host("goodbye2-bpo1", "secp256k1", null, "yamux", "Lighthouse/v8.0.1-e42406d/x86_64-linux", mode: "goodbye2", digest: "cb0d1acc"),
            Host("goodbye2-bpo2", "secp256k1", null, "yamux", "Nimbus/v25.12.0-4110bc-stateofus", mode: "goodbye2"),
        ];
    }

    public async Task InitializeAsync()
    {
        _peer = NodePeer.Start("eth2-host.mjs", ["--config", Configs().ToJsonString()], "libp2p", OnLine);
        await _peer.WaitReadyAsync(_ready.Task, "eth2-host.mjs");
    }

    private void OnLine(string line)
    {
        JsonObject? o;
        try { o = JsonNode.Parse(line) as JsonObject; } catch (JsonException) { return; }
        if (o is null) return;
        var ev = (string?)o["event"];
        if (ev == "listening")
        {
            lock (Hosts) Hosts[(string)o["name"]!] = ((string)o["peerId"]!, (int)o["port"]!);
        }
        else if (ev == "ready")
        {
            _ready.TrySetResult();
        }
        else
        {
            lock (_events)
            {
                _events.Add(o);
                foreach (var w in _waiters.Where(w => w.Match(o))) w.Found.TrySetResult(o);
                _waiters.RemoveAll(w => w.Found.Task.IsCompleted);
            }
        }
    }

    /// <summary>The first event (seen or to come) that matches; <paramref name="hangGuard"/> only bounds a hang.</summary>
    public async Task<JsonObject> WaitForEventAsync(Func<JsonObject, bool> match, TimeSpan hangGuard)
    {
        Task<JsonObject> found;
        lock (_events)
        {
            if (_events.FirstOrDefault(match) is { } seen) return seen;
            var waiter = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, waiter));
            found = waiter.Task;
        }
        try
        {
            return await found.WaitAsync(hangGuard);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("no matching event; seen: " + string.Join("\n", Events.Select(e => e.ToJsonString())));
        }
    }

    public IReadOnlyList<JsonObject> Events
    {
        get { lock (_events) return [.. _events]; }
    }

    public async Task DisposeAsync()
    {
        if (_peer is not null) await _peer.DisposeAsync();
    }
}
