using System.CommandLine;
using ClP2p.Api.CommandLine;
using ClP2p.Crawler.Cli;

namespace ClP2p.Crawler;

/// <summary>The clp2p command line: crawl, run, export, import, census, networks, migrate. Bad options end as one line and
/// exit 2 (see <see cref="CommandRunner"/>).</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "crawl")
        {
            InlineSocketCompletions();
            Hosting.HeapHugePages.TryEnable();
            Hosting.PoolThreads.TryCap();
        }
        var config = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) };
        return await CommandRunner.RunAsync(BuildCommand(), args, "clp2p", config).ConfigureAwait(false);
    }

    /// <summary>
    /// For a one-shot crawl, socket completions run on the socket engine's own threads (one per core), not handed to
    /// the thread pool: a crawl's work is thousands of connections each waiting for a few small reads, and each hand-off
    /// cost a thread-pool wake-up and a context switch (docs/performance.md, "CPU: socket completions, frames, lookups,
    /// timers": 12 % less CPU). The crawl path is async throughout; a synchronous socket call made inside such a
    /// continuation would wait for the very thread it blocks. So not for `run`, whose API server, scheduler and
    /// third-party database code are not held to that. Must happen before the first socket is made (the engine reads
    /// the variable once); DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 in the environment turns it off.
    /// </summary>
    private static void InlineSocketCompletions()
    {
        const string variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(variable) is null) Environment.SetEnvironmentVariable(variable, "1");
    }

    /// <summary>The command line; every command reads time from <paramref name="time"/> (the system clock unless a test
    /// gives another): crawl and visit timestamps, timeouts, Quartz's schedule, "now" in the census windows.</summary>
    public static RootCommand BuildCommand(TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var root = new RootCommand("ClP2p: a crawler for the Ethereum consensus-layer network (discv5 + libp2p), with a census API and dataset exports.");

        var crawl = new Command("crawl", "Run one crawl (discv5 walk + table enumeration, libp2p dials of consensus nodes), store it, print a summary, exit.");
        CliOptions.AddCommon(crawl);
        CliOptions.AddCrawl(crawl);
        CliOptions.AddSummary(crawl);
        crawl.SetAction((p, ct) => CrawlCommand.ExecuteAsync(CliOptions.Load(p), time, ct));
        root.Subcommands.Add(crawl);

        var run = new Command("run", "Crawl continuously on a schedule (Quartz), re-dial known nodes between crawls, enrich with GeoIP/ASN, apply retention, and serve the census API.");
        CliOptions.AddCommon(run);
        CliOptions.AddCrawl(run);
        CliOptions.AddRun(run);
        run.SetAction((p, ct) => RunCommand.ExecuteAsync(CliOptions.Load(p), time, ct));
        root.Subcommands.Add(run);

        root.Subcommands.Add(ExportCommand.Build());
        root.Subcommands.Add(ImportCommand.Build(time));
        root.Subcommands.Add(CensusCommand.Build(time));
        root.Subcommands.Add(NetworksCommand.Build());

        var migrate = new Command("migrate", "Create or upgrade the database schema, then exit.");
        CliOptions.AddCommon(migrate);
        migrate.SetAction((p, ct) => MigrateCommand.ExecuteAsync(CliOptions.Load(p), ct));
        root.Subcommands.Add(migrate);
        return root;
    }
}
