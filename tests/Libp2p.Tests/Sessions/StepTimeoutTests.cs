using System.Net;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Multistream;
using ClP2p.Libp2p.Transport;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>Step deadlines run on the injected TimeProvider.</summary>
public sealed class StepTimeoutTests
{
    [Fact]
    public async Task Silent_remote_times_out_at_security_negotiation_when_fake_time_passes_the_handshake_timeout()
    {
        var time = new FakeTimeProvider();
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), HandshakeTimeout = TimeSpan.FromSeconds(5) }, time: time);
        var (a, silent) = DuplexPipe.CreatePair();
        var dial = dialer.UpgradeOutboundAsync(a, new IPEndPoint(IPAddress.Loopback, 1), null, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(5.1));
        var ex = await Assert.ThrowsAsync<DialException>(() => dial);
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.SecurityNegotiation, ex.Step);
        await silent.DisposeAsync();
    }

    [Fact]
    public async Task Each_step_gets_its_own_timeout_so_a_stall_in_noise_is_reported_as_NoiseHandshake()
    {
        var time = new FakeTimeProvider();
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), HandshakeTimeout = TimeSpan.FromSeconds(5) }, time: time);
        var (a, b) = DuplexPipe.CreatePair();
        var transport = new RecordingStream(a);
        var dial = dialer.UpgradeOutboundAsync(transport, new IPEndPoint(IPAddress.Loopback, 1), null, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4.9)); // just short of the first step's budget
        var echoTaken = transport.ReadStartedAfter(EchoLength);
        await AnswerNoiseProposalAsync(b);
        // Still negotiating at 4.9 s: the dialer takes the echo and waits for Noise message 2 (a timed-out dial would end first).
        Assert.Same(echoTaken, await Task.WhenAny(dial, echoTaken));
        time.Advance(TimeSpan.FromSeconds(5.1)); // 10 s in all, but only 5.1 s of Noise
        var ex = await Assert.ThrowsAsync<DialException>(() => dial);
        Assert.Equal(DialErrorClass.Timeout, ex.Class);
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
        await b.DisposeAsync();
    }

    [Fact]
    public async Task The_noise_handshake_gets_a_whole_timeout_after_the_echo_of_its_lazy_proposal()
    {
        // the proposal leaves with message 1 and both steps share one token: the echo restarts its deadline
        var time = new FakeTimeProvider();
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1(), HandshakeTimeout = TimeSpan.FromSeconds(5) }, time: time);
        var (a, b) = DuplexPipe.CreatePair();
        var transport = new RecordingStream(a);
        var dial = dialer.UpgradeOutboundAsync(transport, new IPEndPoint(IPAddress.Loopback, 1), null, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4.9));
        var echoTaken = transport.ReadStartedAfter(EchoLength);
        await AnswerNoiseProposalAsync(b);
        Assert.Same(echoTaken, await Task.WhenAny(dial, echoTaken));
        time.Advance(TimeSpan.FromSeconds(4.9)); // 9.8 s in all, 4.9 s of Noise: within its own budget
        await b.DisposeAsync();                  // the remote goes away: an end of stream, not a timeout
        var ex = await Assert.ThrowsAsync<DialException>(() => dial);
        Assert.Equal(DialErrorClass.Eof, ex.Class);
        Assert.Equal(DialStep.NoiseHandshake, ex.Step);
    }

    // the listener's header and its echo of "/noise"
    private static readonly int EchoLength = MultistreamCodec.GetEncodedLength(MultistreamCodec.Header) + MultistreamCodec.GetEncodedLength("/noise");

    private static async Task AnswerNoiseProposalAsync(Stream remote)
    {
        await MultistreamSelect.HandleAsync(remote, p => p == "/noise", CancellationToken.None);
        await remote.ReadExactlyAsync(new byte[34]); // the Noise "-> e" message; then stay silent
    }

    [Fact]
    public async Task Caller_cancellation_is_not_reported_as_a_timeout()
    {
        using var dialer = new Libp2pDialer(new Libp2pOptions { Identity = Identity.GenerateSecp256k1() });
        var (a, silent) = DuplexPipe.CreatePair();
        using var cts = new CancellationTokenSource();
        var dial = dialer.UpgradeOutboundAsync(a, new IPEndPoint(IPAddress.Loopback, 1), null, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dial);
        await silent.DisposeAsync();
    }

    [Fact]
    public async Task Expired_completes_when_the_deadline_passes_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        using var step = new StepTimer(TimeSpan.FromSeconds(2), time, CancellationToken.None);
        Task expired = step.Expired;
        time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(expired.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await expired.WaitAsync(HangGuard);
        Assert.True(expired.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Expired_completes_with_the_callers_token_and_at_once_when_already_expired()
    {
        using var caller = new CancellationTokenSource();
        using var step = new StepTimer(Timeout.InfiniteTimeSpan, new FakeTimeProvider(), caller.Token);
        Task expired = step.Expired;
        Assert.False(expired.IsCompleted);
        await caller.CancelAsync();
        await expired.WaitAsync(HangGuard);
        using var zero = new StepTimer(TimeSpan.Zero, new FakeTimeProvider(), CancellationToken.None);
        await zero.Expired.WaitAsync(HangGuard);
    }
}
