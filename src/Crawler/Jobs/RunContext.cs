using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Jobs;

/// <summary>What the scheduled jobs share in a `clp2p run` process.</summary>
public sealed class RunContext(CrawlerSettings settings, StorageOptions storage, ILoggerFactory loggers)
{
    public CrawlerSettings Settings { get; } = settings;
    public StorageOptions Storage { get; } = storage;
    public ILoggerFactory Loggers { get; } = loggers;
    public Func<System.Net.IPAddress, IpGeo?>? Geo { get; init; }

    /// <summary>The clock of every job: visit timestamps, retention cutoffs, dial timeouts.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The process's crawl metrics (exported at /metrics), pointed at each scheduled crawl.</summary>
    public CrawlGauges Metrics { get; } = new();

    /// <summary>The listening node kept up for the whole run (crawls use its discv5 node); null until the run starts it.</summary>
    public Inbound.InboundHost? Inbound { get; set; }

    /// <summary>Crawls and re-dials never overlap: a re-dial waits for a crawl and the other way round.</summary>
    public SemaphoreSlim NetworkGate { get; } = new(1, 1);

    public long CrawlsRun;
    public long RedialsRun;
}
