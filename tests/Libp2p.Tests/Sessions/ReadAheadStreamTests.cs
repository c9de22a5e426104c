using ClP2p.Libp2p.Transport;

namespace ClP2p.Libp2p.Tests.Sessions;

/// <summary>The upgrade's read-ahead: small reads served from one read of the transport, the rest handed on.</summary>
public sealed class ReadAheadStreamTests
{
    [Fact]
    public async Task Small_reads_of_what_has_arrived_take_one_read_of_the_transport_and_the_rest_is_handed_on()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var counted = new RecordingStream(a);
        using var ahead = new ReadAheadStream(counted);
        byte[] sent = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        await b.WriteAsync(sent);

        var got = new byte[40];
        await ahead.ReadExactlyAsync(got.AsMemory(0, 1)).AsTask().WaitAsync(HangGuard);
        await ahead.ReadExactlyAsync(got.AsMemory(1, 19)).AsTask().WaitAsync(HangGuard);
        await ahead.ReadExactlyAsync(got.AsMemory(20, 20)).AsTask().WaitAsync(HangGuard);

        Assert.Equal(sent[..40], got);
        Assert.Equal(1, ahead.TransportReads);
        Assert.Equal(60, ahead.Buffered);
        Assert.Equal(sent[40..], ahead.TakeBuffered());
        Assert.Equal(0, ahead.Buffered);
        Assert.Empty(ahead.TakeBuffered());
        await b.DisposeAsync();
    }

    [Fact]
    public async Task A_read_larger_than_its_buffer_goes_to_the_transport_directly_and_an_end_of_stream_is_zero()
    {
        var (a, b) = DuplexPipe.CreatePair();
        using var ahead = new ReadAheadStream(a);
        var sent = new byte[ReadAheadStream.BufferSize + 10];
        Random.Shared.NextBytes(sent);
        await b.WriteAsync(sent);
        await b.DisposeAsync();

        var got = new byte[sent.Length];
        int n = 0;
        while (n < got.Length)
        {
            int r = await ahead.ReadAsync(got.AsMemory(n)).AsTask().WaitAsync(HangGuard);
            Assert.NotEqual(0, r);
            n += r;
        }
        Assert.Equal(sent, got);
        Assert.Equal(0, ahead.Buffered);
        Assert.Equal(0, await ahead.ReadAsync(new byte[8]).AsTask().WaitAsync(HangGuard));
    }

    [Fact]
    public async Task Writes_go_to_the_transport_and_disposing_it_leaves_the_transport_open()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var ahead = new ReadAheadStream(a);
        await ahead.WriteAsync("hi"u8.ToArray());
        ahead.Dispose();
        await a.WriteAsync("!"u8.ToArray());   // still open
        var got = new byte[3];
        await b.ReadExactlyAsync(got).AsTask().WaitAsync(HangGuard);
        Assert.Equal("hi!"u8.ToArray(), got);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await ahead.ReadExactlyAsync(new byte[1]));
        await a.DisposeAsync();
        await b.DisposeAsync();
    }
}
