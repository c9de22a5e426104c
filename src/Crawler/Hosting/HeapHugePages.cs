using System.Globalization;
using System.Runtime.InteropServices;

namespace ClP2p.Crawler.Hosting;

/// <summary>
/// On 64-bit Linux, backs the first part of the managed heap with transparent huge pages (2 MiB), as a JVM does for its
/// heap with <c>-XX:+UseTransparentHugePages</c>; .NET has no such setting.
/// </summary>
/// <remarks>
/// A crawl's heap is a few hundred MB, touched for the first time while the crawl runs: ~130,000 page faults of 4 KiB
/// in a 20,000-record simulated crawl, each ~10 µs on this project's virtual machine, and the clearing of each page
/// after it. With huge pages ~21,000 faults, and the crawl's CPU ~11 % less (docs/performance.md, "Huge pages for the
/// managed heap"). The collector reserves one range for all its regions and
/// commits it in steps of 64 KiB as it allocates (mprotect to read-write, then MADV_DODUMP); each step splits the
/// mapping, so no fault ever finds a whole aligned 2 MiB inside one mapping and the kernel never gives a huge page,
/// whatever the advice. So the first <see cref="DefaultBytes"/> of the range are made read-write and dumpable up front,
/// as one mapping the collector's own commits leave whole (they change nothing on it), and advised MADV_HUGEPAGE
/// (madvise(2)). Nothing is touched: memory counts only once the collector writes to it, a huge page at a time. The
/// collector's decommit (a fresh PROT_NONE mapping over the part) still works, and a part committed again afterwards
/// gets small pages as before. Skipped when the kernel's huge pages are off, under strict overcommit (where a
/// read-write mapping is charged in full), when the collector has no region range, or with
/// <c>CLP2P_HEAP_HUGE_PAGES=0</c>.
/// </remarks>
internal static partial class HeapHugePages
{
    /// <summary>Set to 0 to turn the advice off.</summary>
    public const string Variable = "CLP2P_HEAP_HUGE_PAGES";

    /// <summary>How much of the region range is prepared: a 20,000-record crawl's heap peaks at a few hundred MB.</summary>
    public const long DefaultBytes = 1L << 30;

    private const long HugePage = 2L << 20;

    /// <summary>What <see cref="TryEnable"/> did: the prepared range, or why nothing was done.</summary>
    public readonly record struct Outcome(bool Applied, long Start, long Length, string Detail)
    {
        public override string ToString() => Applied
            ? string.Create(CultureInfo.InvariantCulture, $"{Length >> 20} MiB of the managed heap's range at 0x{Start:x} advised for transparent huge pages")
            : $"managed heap on small pages: {Detail}";
    }

    /// <summary>The outcome of the process's call (null before it).</summary>
    public static Outcome? Last { get; private set; }

    /// <summary>Prepares the start of the collector's region range (see the remarks); never throws.</summary>
    public static Outcome TryEnable(long bytes = DefaultBytes)
    {
        var outcome = Enable(bytes);
        Last = outcome;
        return outcome;
    }

    private static Outcome Enable(long bytes)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return Skipped("not 64-bit Linux");
        if (Environment.GetEnvironmentVariable(Variable) == "0") return Skipped($"{Variable}=0");
        try
        {
            string thp = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
            if (!thp.Contains("[always]", StringComparison.Ordinal) && !thp.Contains("[madvise]", StringComparison.Ordinal))
                return Skipped($"transparent huge pages are off ({thp.Trim()})");
            if (File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim() == "2")
                return Skipped("strict overcommit (vm.overcommit_memory=2) would charge the whole range");
            if (!GC.GetConfigurationVariables().TryGetValue("GCRegionRange", out object? value)
                || !long.TryParse(Convert.ToString(value, CultureInfo.InvariantCulture), NumberStyles.Integer, CultureInfo.InvariantCulture, out long range)
                || range <= 0)
                return Skipped("the collector reports no region range");
            long probe = AddressOfNewObject();
            if (!TryFindRegionRange(File.ReadAllText("/proc/self/maps"), probe, range, out long reservation))
                return Skipped("the collector's region range was not found in /proc/self/maps");
            // huge pages are aligned: from the first 2 MiB boundary of the range
            long start = (reservation + HugePage - 1) & ~(HugePage - 1);
            long length = Math.Min(bytes, reservation + range - start) & ~(HugePage - 1);
            if (length <= 0) return Skipped("nothing to prepare");
            if (Native.mprotect((nint)start, (nuint)length, Native.PROT_READ | Native.PROT_WRITE) != 0)
                return Skipped($"mprotect failed (errno {Marshal.GetLastPInvokeError()})");
            // the collector's reservation is not dumpable and each of its commits makes the committed part dumpable:
            // done here for the whole part, so those commits change nothing and split nothing
            _ = Native.madvise((nint)start, (nuint)length, Native.MADV_DODUMP);
            if (Native.madvise((nint)start, (nuint)length, Native.MADV_HUGEPAGE) != 0)
                return Skipped($"madvise(MADV_HUGEPAGE) failed (errno {Marshal.GetLastPInvokeError()})");
            return new Outcome(true, start, length, "");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException or DllNotFoundException or EntryPointNotFoundException)
        {
            return Skipped(e.Message);
        }
    }

    private static Outcome Skipped(string why) => new(false, 0, 0, why);

    /// <summary>The address of an object just allocated: inside the collector's region range.</summary>
    private static unsafe long AddressOfNewObject()
    {
        byte[] probe = new byte[16];
        fixed (byte* p = probe) return (long)p;
    }

    /// <summary>
    /// The start of the collector's reservation of <paramref name="range"/> bytes (its region range) that holds
    /// <paramref name="address"/>, from the text of /proc/self/maps. The reservation's untouched tail is a single
    /// inaccessible mapping, more than half of it early in a process: the first such mapping at or above the address
    /// ends where the reservation does. The start must lie at or below the address, and every mapping from the start
    /// to the address's own must be anonymous and private (the collector's), or there is no answer.
    /// </summary>
    internal static bool TryFindRegionRange(string maps, long address, long range, out long start)
    {
        start = 0;
        long end = 0;
        foreach (var line in maps.AsSpan().EnumerateLines())
        {
            if (!TryParseMapping(line, out long from, out long to, out bool inaccessible, out _)) continue;
            if (to <= address || !inaccessible || to - from <= range / 2) continue;
            end = to;
            break;
        }
        long candidate = end - range;
        if (end == 0 || candidate < 0 || candidate > address || (candidate & 0xfff) != 0) return false;
        foreach (var line in maps.AsSpan().EnumerateLines())
        {
            if (!TryParseMapping(line, out long from, out long to, out _, out bool anonymous)) continue;
            if (to <= candidate || from > address) continue;
            if (!anonymous) return false;
        }
        start = candidate;
        return true;
    }

    /// <summary>One line of /proc/PID/maps: <c>start-end perms offset dev inode [path]</c>; anonymous is a private
    /// mapping with no path, inaccessible such a one with no access (<c>---p</c>).</summary>
    private static bool TryParseMapping(ReadOnlySpan<char> line, out long from, out long to, out bool inaccessible, out bool anonymous)
    {
        from = to = 0;
        inaccessible = anonymous = false;
        int dash = line.IndexOf('-');
        int space = line.IndexOf(' ');
        if (dash <= 0 || space <= dash) return false;
        if (!long.TryParse(line[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out from)
            || !long.TryParse(line[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out to))
            return false;
        var rest = line[(space + 1)..];
        // perms, offset, dev, inode, then the path if any
        int fields = 0;
        bool hasPath = false;
        foreach (var range in rest.Split(' '))
        {
            if (range.Start.Value == range.End.Value) continue;
            fields++;
            if (fields > 4)
            {
                hasPath = true;
                break;
            }
        }
        anonymous = rest.Length >= 4 && rest[3] == 'p' && !hasPath;
        inaccessible = anonymous && rest.StartsWith("---", StringComparison.Ordinal);
        return true;
    }

    private static partial class Native
    {
        public const int PROT_READ = 1, PROT_WRITE = 2;
        public const int MADV_HUGEPAGE = 14, MADV_DODUMP = 17;

        [LibraryImport("libc", SetLastError = true)]
        public static partial int mprotect(nint address, nuint length, int prot);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int madvise(nint address, nuint length, int advice);
    }
}
