using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClP2p.Discovery;

namespace ClP2p.Sim;

/// <summary>A node's wide-area link: round trip, jitter and loss applied to what it sends.</summary>
public sealed class Link(int rttMs, double jitter, double loss)
{
    public int RttMs { get; } = rttMs;

    /// <summary>Delay of the next thing sent: the round trip (the crawler's side adds none) ± jitter.</summary>
    public TimeSpan NextDelay()
    {
        double j = RttMs * jitter * (2 * Random.Shared.NextDouble() - 1);
        return TimeSpan.FromMilliseconds(Math.Max(0, RttMs + j));
    }

    /// <summary>The longest <see cref="NextDelay"/> can be.</summary>
    public TimeSpan MaxDelay => TimeSpan.FromMilliseconds(RttMs * (1 + Math.Abs(jitter)));

    public bool Lost() => loss > 0 && Random.Shared.NextDouble() < loss;

    /// <summary>Datagrams of this link's node lost on purpose (the loss probability), and those whose delayed send
    /// failed: a node's own counters count both as sent (SimShard.WriteNodeStats tells them apart).</summary>
    public int DatagramsLost, DatagramsFailed;

    /// <summary>A lost TCP segment arrives after a retransmission: Linux's minimum RTO (200 ms) plus another round trip.</summary>
    public TimeSpan RetransmitDelay() => TimeSpan.FromMilliseconds(200 + RttMs);
}

/// <summary>
/// One thread that sends delayed datagrams when they are due (a priority queue on the monotonic clock): no timer or
/// task per packet, no thread per node.
/// </summary>
public sealed class DelayLine : IDisposable
{
    private readonly PriorityQueue<(Socket Socket, byte[] Data, IPEndPoint To, Action? Then, Link? Link), long> _queue = new();
    private readonly object _gate = new();
    private readonly Thread _thread;
    private bool _stopped;
    private long _sent, _lost, _failed, _maxLateTicks, _late;

    public DelayLine()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "sim-delay-line" };
        _thread.Start();
    }

    public long Sent => Interlocked.Read(ref _sent);
    public long Lost => Interlocked.Read(ref _lost);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>How late this line sent: the latest send past its due time, and the sends more than 100 ms late (a
    /// stalled simulator, its collector's pause say, sends what came due meanwhile in one burst).</summary>
    public double MaxLateMs => Interlocked.Read(ref _maxLateTicks) * 1000.0 / Stopwatch.Frequency;
    public long SentOver100MsLate => Interlocked.Read(ref _late);

    public void CountLost() => Interlocked.Increment(ref _lost);

    public void Enqueue(Socket socket, ReadOnlySpan<byte> data, IPEndPoint to, TimeSpan delay, Action? then = null, Link? link = null)
    {
        long due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        lock (_gate)
        {
            bool wake = _queue.Count == 0 || (_queue.TryPeek(out _, out long first) && due < first);
            _queue.Enqueue((socket, data.ToArray(), to, then, link), due);
            if (wake) Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        var batch = new List<(Socket Socket, byte[] Data, IPEndPoint To, Action? Then, Link? Link)>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_stopped) return;
                    if (_queue.TryPeek(out _, out long due))
                    {
                        long now = Stopwatch.GetTimestamp();
                        if (due <= now) break;
                        int ms = (int)Math.Ceiling((due - now) * 1000.0 / Stopwatch.Frequency);
                        Monitor.Wait(_gate, Math.Max(1, ms));
                    }
                    else Monitor.Wait(_gate);
                }
                long limit = Stopwatch.GetTimestamp();
                long lateTicks = Stopwatch.Frequency / 10;
                while (_queue.TryPeek(out _, out long d) && d <= limit)
                {
                    batch.Add(_queue.Dequeue());
                    if (limit - d > _maxLateTicks) Interlocked.Exchange(ref _maxLateTicks, limit - d);
                    if (limit - d > lateTicks) Interlocked.Increment(ref _late);
                }
            }
            foreach (var (socket, data, to, then, link) in batch)
            {
                try
                {
                    socket.SendTo(data, SocketFlags.None, to);
                    Interlocked.Increment(ref _sent);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Interlocked.Increment(ref _failed);
                    if (link != null) Interlocked.Increment(ref link.DatagramsFailed);
                }
                then?.Invoke();
            }
            batch.Clear();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.Pulse(_gate);
        }
        _thread.Join();
    }
}

/// <summary>What a simulated discv5 node sends goes through its link: lost, or sent one round trip (± jitter) later.</summary>
public sealed class LinkSender(Link link, DelayLine line, Action? onFirstSend = null) : IDatagramSender
{
    private Action? _onFirstSend = onFirstSend;

    public void Send(Socket socket, ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (_onFirstSend is { } first && Interlocked.Exchange(ref _onFirstSend, null) is not null) first();
        if (link.Lost())
        {
            line.CountLost();
            Interlocked.Increment(ref link.DatagramsLost);
            return;
        }
        line.Enqueue(socket, datagram, to, link.NextDelay(), link: link);
    }
}

/// <summary>
/// A TCP stream whose writes reach the wire one round trip (± jitter) later, in order, as a kernel send buffer would
/// hold them: WriteAsync returns at once; one pump per connection writes each chunk when it is due. A lost segment
/// costs a retransmission delay. Reads pass through.
/// </summary>
public sealed class DelayedStream : Stream
{
    private readonly Stream _inner;
    private readonly Link _link;
    private readonly System.Threading.Channels.Channel<(byte[] Data, long Due)> _writes =
        System.Threading.Channels.Channel.CreateUnbounded<(byte[], long)>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private readonly Task _pump;
    private long _lastDue;
    private int _disposed;

    public DelayedStream(Stream inner, Link link)
    {
        _inner = inner;
        _link = link;
        _pump = Task.Run(PumpAsync);
    }

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var (data, due) in _writes.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero) await Task.Delay(wait).ConfigureAwait(false);
                await _inner.WriteAsync(data).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException) { }
        finally
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(DelayedStream));
        var delay = _link.NextDelay();
        if (_link.Lost()) delay += _link.RetransmitDelay();
        long due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        lock (_writes)
        {
            // TCP keeps order: a chunk never overtakes the one before it
            due = Math.Max(due, _lastDue);
            _lastDue = due;
            _writes.Writer.TryWrite((buffer.ToArray(), due));
        }
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Flush() { }
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Closes after the writes already made have gone out (as close() on a socket with data in its send buffer).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0) _writes.Writer.TryComplete();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _writes.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// The system clock, but periodic timers (a node's 1 s housekeeping) share one timer that runs them all every
/// <see cref="Period"/> on one thread: thousands of simulated nodes cost one tick, not thousands of thread-pool items.
/// One-shot timers stay the system's.
/// </summary>
public sealed class SharedTickTimeProvider : TimeProvider, IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5);
    private readonly List<SharedTimer> _timers = [];
    private readonly ITimer _tick;

    public SharedTickTimeProvider() => _tick = System.CreateTimer(_ => Tick(), null, Period, Period);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero) return System.CreateTimer(callback, state, dueTime, period);
        var t = new SharedTimer(this, callback, state);
        lock (_timers) _timers.Add(t);
        return t;
    }

    private void Tick()
    {
        SharedTimer[] all;
        lock (_timers) all = [.. _timers];
        foreach (var t in all) t.Fire();
    }

    private void Remove(SharedTimer t)
    {
        lock (_timers) _timers.Remove(t);
    }

    public void Dispose() => _tick.Dispose();

    private sealed class SharedTimer(SharedTickTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public void Fire() => callback(state);
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;
        public void Dispose() => owner.Remove(this);
        public ValueTask DisposeAsync() { Dispose(); return ValueTask.CompletedTask; }
    }
}
