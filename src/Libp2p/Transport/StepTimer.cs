namespace ClP2p.Libp2p.Transport;

/// <summary>
/// The deadline of one step (a dial step, a request, a grace period): its <see cref="Token"/> fires after a timeout
/// measured by a <see cref="TimeProvider"/>, or with the caller's token, whichever comes first. On the system clock the
/// deadline is kept by <see cref="StepDeadlines"/> (up to one of its ticks late); any other provider (a test's fake
/// clock) times it with its own timer, exactly.
/// </summary>
public sealed class StepTimer : IDisposable
{
    private const int Idle = 0;
    private const int Firing = 1;
    private const int Ended = 2;

    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _registration;
    private readonly StepDeadlines? _wheel;
    private TaskCompletionSource? _expired;
    private CancellationTokenRegistration _expiredRegistration;
    private int _state;
    // timed by the source itself (a provider other than the system clock)
    private readonly bool _timed;

    // the wheel's links, under its lock (Slot -1: not in the wheel)
    internal StepTimer? Prev;
    internal StepTimer? Next;
    internal int Slot = -1;
    internal long DueTick;

    public StepTimer(TimeSpan timeout, TimeProvider time, CancellationToken ct)
        : this(timeout, time, ct, StepDeadlines.Shared)
    {
    }

    internal StepTimer(TimeSpan timeout, TimeProvider time, CancellationToken ct, StepDeadlines wheel)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            _cts = new CancellationTokenSource();
        }
        else if (ReferenceEquals(time, TimeProvider.System) && timeout > TimeSpan.Zero)
        {
            _cts = new CancellationTokenSource();
            _wheel = wheel;
            wheel.Arm(this, timeout);
        }
        else
        {
            _cts = new CancellationTokenSource(timeout, time);
            _timed = true;
        }
        _registration = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>True when the timeout (or the caller's token) has fired.</summary>
    public bool IsCancellationRequested => _cts.IsCancellationRequested;

    /// <summary>Completes (never faults) when the timeout or the caller's token fires: the other side of a
    /// <c>Task.WhenAny</c> with the event the step waits for.</summary>
    public Task Expired
    {
        get
        {
            if (_expired is null)
            {
                var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _expiredRegistration = _cts.Token.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), expired);
                _expired = expired;
            }
            return _expired.Task;
        }
    }

    /// <summary>
    /// Moves the deadline to <paramref name="timeout"/> from now, for the next step on the same token (a step whose
    /// start the caller cannot mark with a timer of its own). False when the deadline already fired, or the timer never
    /// fires (an infinite timeout): then nothing changes.
    /// </summary>
    public bool TryRestart(TimeSpan timeout)
    {
        if (_cts.IsCancellationRequested || Volatile.Read(ref _state) != Idle) return false;
        if (_wheel is not null)
        {
            // out of the wheel and back in; a tick that took it out first has fired it
            if (!_wheel.Disarm(this)) return false;
            _wheel.Arm(this, timeout);
            return true;
        }
        if (_timed)
        {
            _cts.CancelAfter(timeout);   // on the source's own time provider
            return !_cts.IsCancellationRequested;
        }
        return false;
    }

    /// <summary>The wheel's tick: the deadline passed. A timer disposed meanwhile is left alone (its source is being
    /// disposed), one still in use is cancelled here and disposed by <see cref="Dispose"/> or after the cancel.</summary>
    internal void Fire()
    {
        if (Interlocked.CompareExchange(ref _state, Firing, Idle) != Idle) return;
        _cts.Cancel();
        if (Interlocked.CompareExchange(ref _state, Idle, Firing) != Firing)
        {
            _cts.Dispose();   // disposed while its callbacks ran: the source is ours to dispose now
        }
    }

    public void Dispose()
    {
        _wheel?.Disarm(this);
        _expiredRegistration.Dispose();
        _registration.Dispose();
        // a tick cancelling this source right now disposes it when done (Fire)
        if (Interlocked.Exchange(ref _state, Ended) != Firing)
        {
            _cts.Dispose();
        }
    }
}
