using ClP2p.TestSupport;
using System.Net;
using System.Text.Json.Nodes;
using ClP2p.Eth2.Dialing;
using ClP2p.Eth2.Networks;
using ClP2p.Eth2.ReqResp;
using ClP2p.Eth2.Ssz;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Eth2.Tests;

/// <summary>BeaconDialer against js-libp2p 2.10 hosts serving eth2 (tests/interop/eth2-host.mjs) on 127.0.0.1.</summary>
public sealed class Eth2InteropTests : IClassFixture<Eth2HostFixture>, IDisposable
{
    private readonly Eth2HostFixture _hosts;
    // a fixed date (timers real): the digest the dialer calls current does not move with the day the tests run
    private readonly BeaconDialer _dialer = new(BeaconDialerTests.FastOptions(), time: new FixedNow());

    public Eth2InteropTests(Eth2HostFixture hosts) => _hosts = hosts;

    private BeaconDialTarget Target(string name, string? secpKeyHex = null, string? digest = "8c9f62fe")
    {
        var port = _hosts.Hosts[name].Port;
        var key = secpKeyHex is null ? ReadOnlyMemory<byte>.Empty : Identity.FromSecp256k1PrivateKey(Convert.FromHexString(secpKeyHex)).PublicKey.Data.ToArray();
        return new BeaconDialTarget(new IPEndPoint(IPAddress.Loopback, port), key, digest is null ? null : ForkDigest.Parse(digest));
    }

    private static void AssertStatusA(StatusMessage? s, string digest, bool v2 = true)
    {
        Assert.NotNull(s);
        Assert.Equal(digest, s.ForkDigest.ToString());
        Assert.Equal((string)Eth2HostFixture.StatusA["finalizedRoot"]!, s.FinalizedRoot.ToString());
        Assert.Equal(437120UL, s.FinalizedEpoch);
        Assert.Equal((string)Eth2HostFixture.StatusA["headRoot"]!, s.HeadRoot.ToString());
        Assert.Equal(13988100UL, s.HeadSlot);
        Assert.Equal(v2 ? 13500000UL : null, s.EarliestAvailableSlot);
    }

    private static void AssertMetaDataA(MetaDataMessage? m, bool v3 = true)
    {
        Assert.NotNull(m);
        Assert.Equal(5UL, m.SeqNumber);
        Assert.Equal([0, 63], m.Attnets.Subnets.ToArray());
        Assert.Equal([1], m.Syncnets.Subnets.ToArray());
        Assert.Equal(v3 ? 8UL : null, m.CustodyGroupCount);
    }

    [Theory]
    [InlineData("yamux-secp", Eth2HostFixture.SecpKeyA, "/yamux/1.0.0", "Lighthouse/v8.0.1-e42406d/x86_64-linux", "lighthouse", "8c9f62fe")]
    [InlineData("mplex-secp", Eth2HostFixture.SecpKeyB, "/mplex/6.7.0", "teku/teku/v25.6.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21", "teku", "8c9f62fe")]
    [InlineData("yamux-ed25519", null, "/yamux/1.0.0", "nimbus", "nimbus", "8c9f62fe")]
    [InlineData("mplex-ed25519", null, "/mplex/6.7.0", "js-libp2p/2.10.0", "lodestar", "cb0d1acc")]
    public async Task Dialer_gets_exact_agent_status_and_metadata(string host, string? key, string muxer, string agent, string client, string digest)
    {
        var r = await _dialer.DialAsync(Target(host, key, digest), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error} identify={r.IdentifyError} md={r.MetaDataError}");
        Assert.Equal(_hosts.Hosts[host].PeerId, r.PeerId);
        Assert.Equal(muxer, r.Muxer);
        Assert.Equal(agent, r.AgentVersion);
        Assert.Equal(client, r.Agent.Client);
        Assert.Contains(Eth2Protocols.StatusV2, r.Protocols);
        AssertStatusA(r.Status, digest);
        Assert.Equal(2, r.StatusVersion);
        AssertMetaDataA(r.MetaData);
        Assert.Equal(3, r.MetaDataVersion);
        Assert.Equal(5UL, r.PingSeqNumber);
        Assert.NotNull(r.Latency);
        Assert.Null(r.GoodbyeReason);

        // The host saw our Status with the digest the dialer chose (the ENR's when it is mainnet's current one; mainnet's
        // current one for a past digest such as bpo1 cb0d1acc), and our Goodbye(1).
        var peer = _dialer.LocalPeerId.ToString();
        var req = await _hosts.WaitForEventAsync(e => (string?)e["event"] == "status-request" && (string?)e["name"] == host && (string?)e["peerId"] == peer, HangGuard);
        Assert.Equal(_dialer.ChooseDigests(ForkDigest.Parse(digest)).First.ToString(), (string?)req["status"]!["forkDigest"]);
        Assert.Equal(r.StatusSent!.ForkDigest.ToString(), (string?)req["status"]!["forkDigest"]);
        var bye = await _hosts.WaitForEventAsync(e => (string?)e["event"] == "goodbye" && (string?)e["name"] == host && (string?)e["peerId"] == peer, HangGuard);
        Assert.Equal("1", (string?)bye["reason"]);
    }

    [Fact]
    public async Task Dialer_answers_the_hosts_own_status_and_metadata_requests()
    {
        // yamux-secp asks our Status and MetaData before it answers ours (probeBack), like real clients do.
        var r = await _dialer.DialAsync(Target("yamux-secp", Eth2HostFixture.SecpKeyA), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.Error}");
        var peer = _dialer.LocalPeerId.ToString();
        var probe = await _hosts.WaitForEventAsync(e => (string?)e["event"] == "probe" && (string?)e["peerId"] == peer, HangGuard);
        Assert.True(probe["statusError"] is null, probe.ToJsonString());
        Assert.Equal(Eth2Protocols.StatusV2, (string?)probe["statusProtocol"]);
        // We echoed the host's own Status back (its digest and checkpoint).
        Assert.Equal("8c9f62fe", (string?)probe["status"]!["forkDigest"]);
        Assert.Equal((string)Eth2HostFixture.StatusA["finalizedRoot"]!, (string?)probe["status"]!["finalizedRoot"]);
        Assert.Equal(Eth2Protocols.MetaDataV3, (string?)probe["metadataProtocol"]);
        Assert.Equal("4", (string?)probe["metadata"]!["custodyGroupCount"]);
        Assert.NotNull(r.RemoteStatusRequest);
    }

    [Fact]
    public async Task Pre_fulu_host_gets_status_v1_and_metadata_v2()
    {
        var r = await _dialer.DialAsync(Target("v1only", Eth2HostFixture.SecpKeyC), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.Error}");
        Assert.Equal(1, r.StatusVersion);
        AssertStatusA(r.Status, "8c9f62fe", v2: false);
        Assert.Equal(2, r.MetaDataVersion);
        AssertMetaDataA(r.MetaData, v3: false);
        Assert.Equal("prysm", r.Agent.Client);
    }

    [Fact]
    public async Task Past_enr_digest_sends_the_current_one_then_after_goodbye_2_retries_once_with_the_records()
    {
        // A node still on mainnet's bpo1 (cb0d1acc, past since bpo2): we first send mainnet's current digest, the node says
        // Goodbye(2, irrelevant network), and the one retry with the record's digest gets its Status.
        var (first, second) = _dialer.ChooseDigests(ForkDigest.Parse("cb0d1acc"));
        Assert.Equal((NetworkRegistry.Builtin.Get("mainnet").GetCurrentDigest(FixedNow.Date), ForkDigest.Parse("cb0d1acc")), (first, second!.Value));
        var r = await _dialer.DialAsync(Target("goodbye2-bpo1", digest: "cb0d1acc"), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.True(r.StatusRetried);
        Assert.Equal("cb0d1acc", r.StatusSent!.ForkDigest.ToString());
        Assert.Equal("cb0d1acc", r.Status!.ForkDigest.ToString());
        var peer = _dialer.LocalPeerId.ToString();
        var asked = await _hosts.WaitForEventAsync(e => (string?)e["event"] == "status-request" && (string?)e["name"] == "goodbye2-bpo1" && (string?)e["peerId"] == peer
            && (string?)e["status"]!["forkDigest"] == first.ToString(), TimeSpan.FromSeconds(5));
        Assert.NotNull(asked);
    }

    [Fact]
    public async Task Pre_genesis_enr_digest_sends_the_networks_current_digest_and_is_answered()
    {
        // A record still on mainnet's pre-genesis digest f5a5fd42 (Prysm's bootnodes carry it): Status with mainnet's
        // current digest, which a node on it answers at the first try.
        var r = await _dialer.DialAsync(Target("goodbye2-bpo2", digest: "f5a5fd42"), CancellationToken.None);
        Assert.True(r.Success, $"{r.Outcome} {r.FailedStep} {r.Error}");
        Assert.False(r.StatusRetried);
        Assert.Equal("8c9f62fe", r.StatusSent!.ForkDigest.ToString());
        Assert.Null(r.GoodbyeReason);
    }

    [Fact]
    public async Task Goodbye_2_without_another_choice_is_reported_as_a_remote_goodbye()
    {
        // The record names a digest no known network has: nothing else to try.
        var r = await _dialer.DialAsync(Target("goodbye2-bpo1", digest: "deadbeef"), CancellationToken.None);
        Assert.False(r.Success);
        Assert.Equal((2UL, false), (r.GoodbyeReason!.Value, r.StatusRetried));
        Assert.Equal("deadbeef", r.StatusSent!.ForkDigest.ToString());
    }

    [Fact]
    public async Task Goodbye_129_is_too_many_peers_with_the_status_kept()
    {
        var r = await _dialer.DialAsync(Target("goodbye129"), CancellationToken.None);
        Assert.Equal(DialOutcome.TooManyPeers, r.Outcome);
        Assert.Equal(129UL, r.GoodbyeReason);
        Assert.Equal("Lighthouse/v7.0.0/x86_64-linux", r.AgentVersion);
        AssertStatusA(r.Status, "8c9f62fe");
    }

    [Fact]
    public async Task Host_rejecting_eth2_protocols_is_protocol_not_supported_with_agent()
    {
        var r = await _dialer.DialAsync(Target("reject"), CancellationToken.None);
        Assert.Equal(DialOutcome.ProtocolNotSupported, r.Outcome);
        Assert.Equal(BeaconDialStep.Status, r.FailedStep);
        Assert.Equal("rust-libp2p/0.54.0", r.AgentVersion);
        Assert.Null(r.Status);
    }

    [Theory]
    [InlineData("bomb")]
    [InlineData("garbage")]
    public async Task Bomb_and_garbage_status_responses_are_malformed_and_the_dialer_keeps_working(string host)
    {
        var r = await _dialer.DialAsync(Target(host), CancellationToken.None);
        Assert.Equal(DialOutcome.Malformed, r.Outcome);
        Assert.Equal(BeaconDialStep.Status, r.FailedStep);
        Assert.Equal($"{host}/v1.0.0", r.AgentVersion);   // Malformed, not Timeout: the bad answer itself ended the dial

        var ok = await _dialer.DialAsync(Target("yamux-ed25519"), CancellationToken.None);
        Assert.True(ok.Success, $"{ok.Outcome} {ok.Error}");
    }

    [Fact]
    public async Task Concurrent_dials_to_all_good_hosts_succeed()
    {
        var targets = new[] { Target("yamux-secp", Eth2HostFixture.SecpKeyA), Target("mplex-secp", Eth2HostFixture.SecpKeyB), Target("yamux-ed25519"), Target("mplex-ed25519", digest: "cb0d1acc") };
        var results = await Task.WhenAll(targets.Select(t => _dialer.DialAsync(t, CancellationToken.None)));
        Assert.All(results, r => Assert.True(r.Success, $"{r.Outcome} {r.Error}"));
    }

    public void Dispose() => _dialer.Dispose();
}
