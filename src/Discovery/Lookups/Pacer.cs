using System.Threading.Tasks.Sources;

namespace ClP2p.Discovery;

/// <summary>
/// Waits until a timestamp (of its <see cref="TimeProvider"/>), for many waiters with one timer: the crawler paces
/// each node's requests a spacing apart, about 150,000 waits in a crawl of 20,000 records. A <c>Task.Delay</c> each
/// cost a runtime timer, a promise and a cancellation registration per wait, and the timer queue handed each expiry
/// to the thread pool on its own; here the waits are one priority queue, the timer is armed for the earliest, and
/// every wait due when it fires is completed on the timer's thread, in order of its due time. A waiter's continuation
/// runs there, synchronously.
/// </summary>
internal sealed class Pacer : IDisposable
{
    private const long NotArmed = long.MaxValue;

    private readonly Lock _gate = new();
    private readonly PriorityQueue<Waiter, long> _queue = new();
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly CancellationTokenRegistration _registration;
    private long _armedFor = NotArmed;
    private bool _cancelled;

    /// <param name="cancellation">Ends every wait, present and future, with false.</param>
    public Pacer(TimeProvider time, CancellationToken cancellation)
    {
        _time = time;
        _timer = time.CreateTimer(static s => ((Pacer)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _registration = cancellation.UnsafeRegister(static s => ((Pacer)s!).CancelAll(), this);
    }

    /// <summary>
    /// True at <paramref name="due"/> (never before), false when the pacer's cancellation came first. One wait at a
    /// time per <paramref name="waiter"/>, and its result awaited before the next.
    /// </summary>
    public ValueTask<bool> WaitUntilAsync(Waiter waiter, long due)
    {
        ArgumentNullException.ThrowIfNull(waiter);
        var wait = waiter.Arm();
        lock (_gate)
        {
            if (!_cancelled)
            {
                _queue.Enqueue(waiter, due);
                if (due < _armedFor) Arm(due, _time.GetTimestamp());
                return wait;
            }
        }
        waiter.Complete(false);
        return wait;
    }

    private void Arm(long due, long now)
    {
        _armedFor = due;
        TimerDue.Arm(_timer, _time, due, now);
    }

    private void Fire()
    {
        List<Waiter>? due = null;
        lock (_gate)
        {
            if (_cancelled) return;
            long now = _time.GetTimestamp();
            _armedFor = NotArmed;
            while (_queue.TryPeek(out var w, out long at) && at <= now)
            {
                _queue.Dequeue();
                (due ??= []).Add(w);
            }
            if (_queue.TryPeek(out _, out long next)) Arm(next, now);
        }
        // outside the lock: a continuation may wait again at once
        if (due is not null) foreach (var w in due) w.Complete(true);
    }

    private void CancelAll()
    {
        List<Waiter> waiting;
        lock (_gate)
        {
            if (_cancelled) return;
            _cancelled = true;
            waiting = new List<Waiter>(_queue.Count);
            while (_queue.TryDequeue(out var w, out _)) waiting.Add(w);
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        foreach (var w in waiting) w.Complete(false);
    }

    public void Dispose()
    {
        _registration.Dispose();
        _timer.Dispose();
    }

    /// <summary>What one wait at a time awaits: reused for every wait of its owner, so a wait allocates nothing.</summary>
    public sealed class Waiter : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _core;

        internal ValueTask<bool> Arm()
        {
            _core.Reset();
            return new ValueTask<bool>(this, _core.Version);
        }

        internal void Complete(bool result) => _core.SetResult(result);

        bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
