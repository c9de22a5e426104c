using System.Globalization;
using ClP2p.Crawler.Engine;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>Live progress: a refreshing status line on a terminal, plain log lines when output is redirected.</summary>
public static class CrawlProgress
{
    /// <summary>The live line never exceeds this many columns (with the spinner in front on a terminal).</summary>
    public const int MaxWidth = 78;

    /// <summary>The dial rate shown is over this last stretch of time, not the average since the start.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(CrawlCounters counters, ILogger log, TimeProvider time, CancellationToken until)
    {
        long start = time.GetTimestamp();
        var rate = new DialRate(RateWindow);
        bool terminal = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        TimeSpan period = terminal ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);
        string Next()
        {
            TimeSpan elapsed = time.GetElapsedTime(start);
            return Line(counters, elapsed, rate.Sample(elapsed, counters.Dialled));
        }
        if (terminal)
        {
            await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync(Next(), async ctx =>
            {
                while (!until.IsCancellationRequested)
                {
                    try { await Task.Delay(period, time, until).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                    ctx.Status(Markup.Escape(Next()));
                }
            }).ConfigureAwait(false);
            return;
        }
        while (!until.IsCancellationRequested)
        {
            try { await Task.Delay(period, time, until).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            log.LogInformation("progress: {Line}", Next());
        }
    }

    /// <summary>"00:01:05 found 12345 cl 9870 ans 8012 dial 7012 ok 3100 fail 3912 41.5/s": at most <see cref="MaxWidth"/>
    /// columns for any counts (large ones shortened to k/M), with the current dial rate.</summary>
    public static string Line(CrawlCounters c, TimeSpan elapsed, double dialsPerSecond) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{(int)elapsed.TotalHours:00}:{elapsed:mm\\:ss} found {Short(c.NodesFound)} cl {Short(c.ConsensusNodes)} ans {Short(c.Answered)} " +
            $"dial {Short(c.Dialled)} ok {Short(c.DialOk)} fail {Short(c.DialFailed)} {Rate(dialsPerSecond)}/s");

    /// <summary>A count in at most 5 characters: 12345, 123k, 1.2M.</summary>
    public static string Short(long n) => n switch
    {
        < 100_000 => n.ToString(CultureInfo.InvariantCulture),
        < 10_000_000 => (n / 1000).ToString(CultureInfo.InvariantCulture) + "k",
        _ => (n / 1_000_000.0).ToString("0.#", CultureInfo.InvariantCulture) + "M",
    };

    // At most 4 characters: 12.3, 123, 12k.
    private static string Rate(double r) => r switch
    {
        < 99.95 => r.ToString("0.0", CultureInfo.InvariantCulture),
        < 1000 => r.ToString("0", CultureInfo.InvariantCulture),
        _ => ((long)(r / 1000)).ToString(CultureInfo.InvariantCulture) + "k",
    };
}

/// <summary>The rate of a growing count over the last <c>window</c> of samples (the current rate, not the mean since start).</summary>
public sealed class DialRate(TimeSpan window)
{
    private readonly Queue<(TimeSpan At, long Count)> _samples = new();

    /// <summary>Adds a sample and returns the rate per second since the oldest sample within the window.</summary>
    public double Sample(TimeSpan at, long count)
    {
        _samples.Enqueue((at, count));
        while (_samples.Count > 1 && at - _samples.Peek().At > window) _samples.Dequeue();
        var (firstAt, firstCount) = _samples.Peek();
        double seconds = (at - firstAt).TotalSeconds;
        return seconds <= 0 ? 0 : (count - firstCount) / seconds;
    }
}
