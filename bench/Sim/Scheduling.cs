using System.Globalization;
using System.Runtime.InteropServices;

namespace ClP2p.Sim;

/// <summary>
/// The simulator's threads run under Linux's SCHED_BATCH policy (sched(7)), so that a simulated node woken by the
/// crawler's own send does not pre-empt the crawler on the core it shares with it.
/// </summary>
/// <remarks>
/// The simulator stands for the internet, whose nodes run on other machines; here it shares this machine's cores with
/// the crawler it is measured against. Each datagram and TCP write of the crawler makes a simulated node's thread
/// runnable, and under the default policy the woken thread took the core from the crawler at once: 119,000–142,000
/// involuntary context switches per 20,000-record crawl, each one charged to the crawler as the cost of switching away
/// and back. A SCHED_BATCH thread does not pre-empt on wake-up; it runs on the other core, or when the crawler's thread
/// waits or its slice ends (docs/performance.md, "The simulator yields to the crawler"). Its answers are no less
/// frequent, only scheduled without pre-emption; `--sched normal` measures the old way.
/// Processes the simulator starts inherit the calling thread's policy (fork(2)); the crawler and the export are
/// started from a thread put back under SCHED_OTHER for the call (<see cref="StartUnderNormalPolicy{T}"/>).
/// </remarks>
public static partial class Scheduling
{
    private const int SchedOther = 0;
    private const int SchedBatch = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SetScheduler(int tid, int policy, ref SchedParam param);

    // the calling thread's own policy through the C library: glibc keeps a thread's policy in its thread descriptor
    // once read and gives a thread it starts that copy, which sched_setscheduler alone would leave stale
    [LibraryImport("libc", EntryPoint = "pthread_self")]
    private static partial nint PthreadSelf();

    [LibraryImport("libc", EntryPoint = "pthread_setschedparam")]
    private static partial int SetSchedParam(nint thread, int policy, ref SchedParam param);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int GetScheduler(int tid);

    /// <summary>The policy of thread or process <paramref name="tid"/> (0: the calling thread): "batch", "normal", or
    /// the policy's number.</summary>
    public static string PolicyOf(int tid) => OperatingSystem.IsLinux()
        ? GetScheduler(tid) switch { SchedBatch => "batch", SchedOther => "normal", int p => p.ToString(CultureInfo.InvariantCulture) }
        : "normal";

    /// <summary>Puts every thread of this process under SCHED_BATCH (threads started later inherit it). Returns false,
    /// changing nothing further, where the system refuses (not Linux, or the call failed).</summary>
    public static bool BatchThisProcess()
    {
        if (!OperatingSystem.IsLinux()) return false;
        // the calling thread first: a thread it starts from now on inherits the policy
        if (!BatchThisThread()) return false;
        var param = new SchedParam();
        foreach (string dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            // a thread that ended since the listing is no error
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid)) SetScheduler(tid, SchedBatch, ref param);
        }
        return true;
    }

    /// <summary>Puts the calling thread alone under SCHED_BATCH; false where the system refuses.</summary>
    public static bool BatchThisThread()
    {
        if (!OperatingSystem.IsLinux()) return false;
        var param = new SchedParam();
        return SetSchedParam(PthreadSelf(), SchedBatch, ref param) == 0;
    }

    /// <summary>Runs <paramref name="start"/> (a synchronous process start) with the calling thread under SCHED_OTHER,
    /// so that the process it forks, the crawler under measurement, does not inherit SCHED_BATCH; the thread's policy is
    /// restored after it. On a thread not under SCHED_BATCH it only runs <paramref name="start"/>.</summary>
    public static T StartUnderNormalPolicy<T>(Func<T> start)
    {
        if (!OperatingSystem.IsLinux() || GetScheduler(0) != SchedBatch) return start();
        var param = new SchedParam();
        if (SetSchedParam(PthreadSelf(), SchedOther, ref param) is var error and not 0)
            throw new InvalidOperationException($"pthread_setschedparam(SCHED_OTHER) failed ({error}): the crawler would inherit SCHED_BATCH");
        try
        {
            return start();
        }
        finally
        {
            SetSchedParam(PthreadSelf(), SchedBatch, ref param);
        }
    }
}
