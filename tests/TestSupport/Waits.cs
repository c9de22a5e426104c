namespace ClP2p.TestSupport;

/// <summary>What bounds the waits of every test project.</summary>
public static class Waits
{
    /// <summary>
    /// Turns a hang into a failure; it times nothing: every wait it bounds ends on an event (an answer, a log line, a
    /// process exit, a fake clock's step), and a loaded machine (two cores shared with other builds) must never reach it.
    /// </summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);
}
