using System.Collections.Concurrent;

namespace ClP2p.TestSupport;

/// <summary>
/// Records the first-chance exceptions (thrown, whether caught or not) of one test's async flow: everything the test
/// awaits or starts after <see cref="Start"/> carries the probe in an <see cref="AsyncLocal{T}"/>, so tests running in
/// parallel never see each other's exceptions. What was started before (a listener's accept loop) is not watched.
/// </summary>
public sealed class FirstChanceProbe : IDisposable
{
    private static readonly AsyncLocal<FirstChanceProbe?> Current = new();
    private readonly ConcurrentQueue<Exception> _seen = new();
    private volatile bool _stopped;

    static FirstChanceProbe()
    {
        AppDomain.CurrentDomain.FirstChanceException += (_, e) =>
        {
            if (Current.Value is { _stopped: false } probe) probe._seen.Enqueue(e.Exception);
        };
    }

    private FirstChanceProbe()
    {
    }

    /// <summary>Watches the calling flow from now on (a synchronous call: the caller's flow keeps the probe).</summary>
    public static FirstChanceProbe Start()
    {
        var probe = new FirstChanceProbe();
        Current.Value = probe;
        return probe;
    }

    /// <summary>Exceptions seen so far, of the given kinds (subclasses included) or all when none are given.</summary>
    public IReadOnlyList<Exception> Seen(params Type[] kinds) =>
        [.. _seen.Where(e => kinds.Length == 0 || kinds.Any(k => k.IsInstanceOfType(e)))];

    /// <summary>One line per exception: type, message and the method that threw it.</summary>
    public static string Describe(IEnumerable<Exception> exceptions) =>
        string.Join(Environment.NewLine, exceptions.Select(e => $"{e.GetType().Name}: {e.Message} @ {e.TargetSite?.DeclaringType?.Name}.{e.TargetSite?.Name}"));

    public void Dispose()
    {
        _stopped = true;
        if (Current.Value == this) Current.Value = null;
    }
}
