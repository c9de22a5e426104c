namespace ClP2p.Discovery;

/// <summary>Arms a one-shot timer for a timestamp of its <see cref="TimeProvider"/>, never before it.</summary>
internal static class TimerDue
{
    // the longest due a runtime timer takes (uint.MaxValue - 1 ms, about 49.7 days); a later one fires early and the
    // caller, finding nothing due yet, arms the timer again
    private const long MaxDueMs = 0xFFFFFFFE;

    /// <summary>
    /// Sets <paramref name="timer"/> to fire once at <paramref name="due"/> (timestamps of <paramref name="time"/>;
    /// <paramref name="now"/> read by the caller). Whole milliseconds, rounded up: the runtime's timers count
    /// milliseconds and truncate, so a due under one would fire at once, too early, again and again until it is due.
    /// </summary>
    public static void Arm(ITimer timer, TimeProvider time, long due, long now)
    {
        long ticks = due <= now ? 0 : time.GetElapsedTime(now, due).Ticks;
        long ms = Math.Min((ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond, MaxDueMs);
        timer.Change(TimeSpan.FromTicks(ms * TimeSpan.TicksPerMillisecond), Timeout.InfiniteTimeSpan);
    }
}
