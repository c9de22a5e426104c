using System.Globalization;
using ClP2p.Crawler.Engine;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ClP2p.Crawler.Cli;

/// <summary>Live progress: a refreshing status line on a terminal, plain log lines when output is redirected.</summary>
public static class CrawlProgress
{
    public static async Task RunAsync(CrawlCounters counters, ILogger log, TimeProvider time, CancellationToken until)
    {
        long start = time.GetTimestamp();
        bool terminal = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        TimeSpan period = terminal ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);
        if (terminal)
        {
            await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync(Line(counters, time.GetElapsedTime(start)), async ctx =>
            {
                while (!until.IsCancellationRequested)
                {
                    try { await Task.Delay(period, time, until).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                    ctx.Status(Markup.Escape(Line(counters, time.GetElapsedTime(start))));
                }
            }).ConfigureAwait(false);
            return;
        }
        while (!until.IsCancellationRequested)
        {
            try { await Task.Delay(period, time, until).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            log.LogInformation("progress: {Line}", Line(counters, time.GetElapsedTime(start)));
        }
    }

    public static string Line(CrawlCounters c, TimeSpan elapsed)
    {
        double rate = elapsed.TotalSeconds > 0 ? c.Dialled / elapsed.TotalSeconds : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"{elapsed:hh\\:mm\\:ss} found {c.NodesFound} (cl {c.ConsensusNodes}), queried {c.Queried} (answered {c.Answered}), " +
            $"dialled {c.Dialled}/{c.DialQueued} ok {c.DialOk} failed {c.DialFailed}, {rate:0.0} dials/s, written {c.NodesWritten}");
    }
}
