namespace ClP2p.Discovery;

/// <summary>Arms a one-shot timer for a timestamp of its <see cref="TimeProvider"/>, never before it.</summary>
internal static class TimerDue
{
    // the longest due a runtime timer takes (uint.MaxValue - 1 ms, about 49.7 days); a later one fires early and the
    // caller, finding nothing due yet, arms the timer again
    private const long MaxDueMs = 0xFFFFFFFE;

    /// <summary>Granularity of dues on the system clock (see <see cref="Arm"/>).</summary>
    internal const long QuantumMs = 10;

    /// <summary>
    /// Sets <paramref name="timer"/> to fire once at <paramref name="due"/> (timestamps of <paramref name="time"/>;
    /// <paramref name="now"/> read by the caller). Whole milliseconds, rounded up: the runtime's timers count
    /// milliseconds and truncate, so a due under one would fire at once, too early, again and again until it is due.
    /// </summary>
    public static void Arm(ITimer timer, TimeProvider time, long due, long now)
    {
        if (ReferenceEquals(time, TimeProvider.System))
        {
            // on the system clock, dues are put off to the next multiple of Quantum, the same instants for every timer
            // armed this way: a crawl's pacer and handler shards re-arm their timers for thousands of distinct dues a
            // second (requests paced 125 ms apart, timeouts of a second or more), and each distinct due was a wake-up
            // of the runtime's timer thread and a thread-pool worker woken for the callback. A few milliseconds late
            // changes nothing for either; a test's fake clock keeps the exact dues.
            long q = Math.Max(1, time.TimestampFrequency * QuantumMs / 1000);
            long aligned = (due + q - 1) / q * q;
            if (aligned > due) due = aligned;
        }
        long ticks = due <= now ? 0 : time.GetElapsedTime(now, due).Ticks;
        long ms = Math.Min((ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond, MaxDueMs);
        timer.Change(TimeSpan.FromTicks(ms * TimeSpan.TicksPerMillisecond), Timeout.InfiniteTimeSpan);
    }
}
