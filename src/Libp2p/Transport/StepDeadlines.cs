using System.Diagnostics;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// The deadlines of step timers on the system clock, in one timing wheel (Varghese and Lauck, "Hashed and Hierarchical
/// Timing Wheels", scheme 6) driven by one periodic timer while any deadline is armed. A dial arms about twenty step
/// timers, nearly all disposed long before they are due; as runtime timers each was a timer object added to and taken
/// from the runtime's timer queue, whose every firing scans all its timers (thousands during a crawl). Here arming and
/// disarming is a link into a slot's list under one lock, and a tick looks at one slot. A deadline fires up to one tick
/// late, never early.
/// </summary>
internal sealed class StepDeadlines
{
    /// <summary>The one wheel of the process: ticks of 25 ms (the shortest step deadlines are half a second; each tick
    /// is a wake-up of a pool thread while deadlines are armed), 256 slots (one turn: 6.4 s).</summary>
    public static readonly StepDeadlines Shared = new(TimeSpan.FromMilliseconds(25), 256);

    private readonly Lock _gate = new();
    private readonly StepTimer?[] _slots;
    private readonly long _tickTimestamps;
    private readonly Timer? _timer;
    private readonly Func<long> _now;
    private readonly TimeSpan _tick;
    private long _processedTick;   // every slot up to this tick has been looked at
    private int _armed;
    private bool _running;

    /// <param name="tick">The wheel's resolution.</param>
    /// <param name="slots">Slots of one turn.</param>
    /// <param name="timestamp">The clock, in <see cref="Stopwatch"/> ticks (by default <see cref="Stopwatch.GetTimestamp"/>).</param>
    /// <param name="periodic">Whether a timer drives the wheel; without it, whoever owns the wheel calls <see cref="Tick"/>
    /// (a test with its own clock).</param>
    public StepDeadlines(TimeSpan tick, int slots, Func<long>? timestamp = null, bool periodic = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 2);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(tick, TimeSpan.Zero);
        _tick = tick;
        _now = timestamp ?? Stopwatch.GetTimestamp;
        _tickTimestamps = Math.Max(1, (long)(tick.TotalSeconds * Stopwatch.Frequency));
        _slots = new StepTimer?[slots];
        _processedTick = _now() / _tickTimestamps;
        if (periodic) _timer = new Timer(static s => ((StepDeadlines)s!).Tick(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Deadlines armed and not yet fired or disarmed.</summary>
    public int Armed => Volatile.Read(ref _armed);

    /// <summary>Arms <paramref name="timer"/> to fire <paramref name="timeout"/> from now.</summary>
    public void Arm(StepTimer timer, TimeSpan timeout)
    {
        long due = _now() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        // the tick whose processing comes after the deadline: never early
        long dueTick = (due / _tickTimestamps) + 1;
        lock (_gate)
        {
            dueTick = Math.Max(dueTick, _processedTick + 1);
            timer.DueTick = dueTick;
            int slot = (int)(dueTick % _slots.Length);
            timer.Slot = slot;
            timer.Prev = null;
            timer.Next = _slots[slot];
            if (timer.Next is { } next) next.Prev = timer;
            _slots[slot] = timer;
            _armed++;
            if (!_running && _timer is not null)
            {
                _running = true;
                _timer.Change(_tick, _tick);
            }
        }
    }

    /// <summary>Takes <paramref name="timer"/> out of the wheel; false when it already fired (or was never armed).</summary>
    public bool Disarm(StepTimer timer)
    {
        lock (_gate)
        {
            if (timer.Slot < 0) return false;
            Unlink(timer);
            return true;
        }
    }

    private void Unlink(StepTimer timer)
    {
        if (timer.Prev is { } prev) prev.Next = timer.Next;
        else _slots[timer.Slot] = timer.Next;
        if (timer.Next is { } next) next.Prev = timer.Prev;
        timer.Prev = timer.Next = null;
        timer.Slot = -1;
        _armed--;
    }

    /// <summary>Fires every deadline that has passed (the periodic timer's callback).</summary>
    public void Tick()
    {
        List<StepTimer>? due = null;
        lock (_gate)
        {
            long now = _now() / _tickTimestamps;
            // a late tick (a busy machine) catches up on every slot it skipped, at most one turn of the wheel
            long from = Math.Max(_processedTick + 1, now - _slots.Length + 1);
            for (long t = from; t <= now; t++)
            {
                for (var timer = _slots[(int)(t % _slots.Length)]; timer is not null;)
                {
                    var next = timer.Next;
                    if (timer.DueTick <= now)
                    {
                        Unlink(timer);
                        (due ??= []).Add(timer);
                    }
                    timer = next;
                }
            }
            _processedTick = now;
            if (_armed == 0 && _running)
            {
                _running = false;
                _timer!.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
        if (due is null) return;
        List<Exception>? thrown = null;
        foreach (var timer in due)
        {
            try
            {
                timer.Fire();
            }
            catch (Exception e)
            {
                // a callback of a cancelled token threw (as a runtime timer's would, it ends the process), but the
                // other deadlines of this tick fire first
                (thrown ??= []).Add(e);
            }
        }
        if (thrown is not null) throw new AggregateException(thrown);
    }
}
