using System.Net;
using System.Text.Json;
using ClP2p.Crawler.Config;
using ClP2p.Crawler.Engine;
using ClP2p.Discovery;
using ClP2p.Eth2.Dialing;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using ClP2p.Storage;
using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler.Eth2Crawl;

/// <summary>Why a crawl failed, and the likely cause in the user's words.</summary>
public sealed record CrawlFailure(string Reason, string LikelyCause);

/// <summary>Why a crawl ended, as its summary says.</summary>
public static class EndedBy
{
    /// <summary>Discovery ran out of nodes to ask and every dial finished.</summary>
    public const string Completed = "completed";
    /// <summary>Cut by --max-duration.</summary>
    public const string MaxDuration = "max_duration";
    /// <summary>Stopped by SIGINT/SIGTERM.</summary>
    public const string Aborted = "aborted";
    /// <summary>Stopped by an error.</summary>
    public const string Error = "error";
}

/// <summary>
/// Runs one crawl end to end: opens discv5 and the dialer with the crawler's persisted key, records the crawl in
/// storage, streams every result to the writer as it comes, and closes the crawl with its counts and summary.
/// </summary>
public sealed class CrawlSession(CrawlerSettings settings, StorageOptions storage, ILoggerFactory loggers, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _log = loggers.CreateLogger<CrawlSession>();

    /// <summary>Looks up geo/ASN for an IP (null: no enrichment).</summary>
    public Func<IPAddress, IpGeo?>? GeoLookup { get; init; }

    /// <summary>The process's metrics, pointed at this crawl while it runs (null: none exported).</summary>
    public CrawlGauges? Metrics { get; init; }

    /// <summary>The listening node of a `clp2p run` process, kept up between crawls; null: the crawl opens its own for its duration.</summary>
    public Inbound.InboundHost? Inbound { get; init; }

    /// <summary>Called with the live counters once the crawl has started (progress display).</summary>
    public Func<CrawlCounters, CancellationToken, Task>? Progress { get; init; }

    /// <summary>
    /// Opens the database for this crawl (migrations, stored-name refresh) while discovery already runs; null when the
    /// caller opened it before. Its failure ends the crawl with that error; no crawl row is written then.
    /// </summary>
    public Func<CancellationToken, Task>? PrepareStorage { get; init; }

    public async Task<CrawlSummary> RunAsync(CancellationToken ct)
    {
        var selection = NetworkSelection.Resolve(settings, _log);
        byte[] key = NodeKeyStore.LoadOrCreate(settings.DataDir);
        var policy = new AddressPolicy(settings.Crawl.AllowPrivate, settings.Crawl.AllowLoopback);

        var crawls = new CrawlStore(storage, _time, loggers.CreateLogger<CrawlStore>());
        DateTimeOffset started = _time.GetUtcNow();

        // The database is opened, and the crawl row written, while discovery already runs (from just after the
        // bootnodes' first packets): migrations, EF's model and the parameters' JSON cost over a second of CPU, which
        // would otherwise all come before the first packet. Results wait in the writer until the row exists. A user
        // abort does not cancel it, so an aborted crawl still gets its row.
        var storageFailed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var rowSource = new TaskCompletionSource<(long Id, CrawlLease Lease)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<(long Id, CrawlLease Lease)> opening = rowSource.Task;
        int openingStarted = 0;
        void StartOpening()
        {
            if (Interlocked.Exchange(ref openingStarted, 1) != 0) return;
            _ = Task.Run(async () =>
            {
                try { rowSource.SetResult(await OpenCrawlAsync(crawls, selection, started).ConfigureAwait(false)); }
#pragma warning disable CA1031 // handed to the session through the task
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    // cancel before the row task fails: the session disposes storageFailed only once that task is done
                    try { storageFailed.Cancel(); }
                    finally { rowSource.SetException(ex); }
                }
            }, CancellationToken.None);
        }
        Task<long> crawlRow = IdOf(opening);
        static async Task<long> IdOf(Task<(long Id, CrawlLease Lease)> row) => (await row.ConfigureAwait(false)).Id;

        long? crawlId = null;
        string state = CrawlStates.Failed;
        string endedBy = EndedBy.Error;
        CrawlFailure? failure = null;
        CrawlEngine<Enr, BeaconDialResult>? engine = null;
        StorageCrawlSink? sink = null;
        long sent = 0, sendErrors = 0;
        var CanContact = ContactFilter(policy);
        // Bootnodes the address policy refuses are never contacted (not even the start-up PING).
        var allowedBootnodes = selection.Bootnodes.Where(CanContact).ToList();
        var writer = new ResultWriter(storage, new ResultWriterOptions(), loggers.CreateLogger<ResultWriter>(), time: _time, ready: crawlRow);
        Inbound.InboundHost? ownInbound = null;
        Inbound.InboundHost? inbound = Inbound;
        try
        {
            // a host of our own (`clp2p crawl`) writes the nodes that contact us once the database is open
            inbound ??= ownInbound = await ClP2p.Crawler.Inbound.InboundHost.StartAsync(settings, storage, selection, key, allowedBootnodes, loggers, _time, ct, storageReady: crawlRow, geo: GeoLookup).ConfigureAwait(false);
            StartOpening();
            var discv5 = inbound.Node;
            long sentBefore = discv5.PacketsSent, sendErrorsBefore = discv5.SendErrors;
            // the socket's count so far (a host's earlier crawls): this crawl's drops are what it adds
            long? kernelDropsBefore = discv5.KernelReceiveDrops;
            _log.LogInformation("discv5 listening on {Endpoint} as {NodeId}", discv5.LocalEndPoint, discv5.LocalId);

            using var dialer = CreateDialer(settings, selection, key, loggers, _time);
            int dialConcurrency = DialBudget.Concurrency(settings.Crawl.DialConcurrency, FileDescriptorLimit.Read(_log), _log);

            var discovery = new Discv5DiscoveryWorker(discv5, new DhtCrawlOptions
            {
                CanContact = CanContact,
                MaxConcurrency = settings.Crawl.DiscoveryConcurrency,
            }, selection.Bootnodes, _time, policy.IsAllowed);
            sink = new StorageCrawlSink(writer, crawlRow, selection.Registry, _time, GeoLookup, _log);
            engine = new CrawlEngine<Enr, BeaconDialResult>(discovery, new BeaconDialWorker(dialer, policy.IsAllowed), sink, new CrawlEngineOptions
            {
                DialConcurrency = dialConcurrency,
                MaxDuration = settings.Crawl.MaxDuration,
                Dial = settings.Crawl.Dial,
                AddressPolicy = policy,
            }, loggers.CreateLogger("ClP2p.Crawler.Engine.CrawlEngine"), _time);
            Metrics?.Track(engine.Counters, writer, discv5);

            using var progressStop = new CancellationTokenSource();
            Task progress = Progress?.Invoke(engine.Counters, progressStop.Token) ?? Task.CompletedTask;
            CrawlEnd end;
            try
            {
                end = await engine.RunAsync(storageFailed.Token).ConfigureAwait(false);
            }
            finally
            {
                await progressStop.CancelAsync().ConfigureAwait(false);
                await progress.ConfigureAwait(false);
            }
            // A database that could not be opened ends the crawl here, with its own error (nothing was written).
            crawlId = await crawlRow.ConfigureAwait(false);
            state = end == CrawlEnd.Aborted ? CrawlStates.Aborted : CrawlStates.Succeeded;
            endedBy = end switch { CrawlEnd.Aborted => EndedBy.Aborted, CrawlEnd.Deadline => EndedBy.MaxDuration, _ => EndedBy.Completed };
            (sent, sendErrors) = (discv5.PacketsSent - sentBefore, discv5.SendErrors - sendErrorsBefore);
            if (state == CrawlStates.Succeeded)
            {
                failure = Diagnose(selection.Bootnodes, allowedBootnodes.Count, engine.Counters.Answered, sent, sendErrors, policy);
                if (failure is not null) state = CrawlStates.Failed;
            }
            _log.LogInformation("crawl {CrawlId} ended ({End}); discv5 packets sent {Sent} in {SendCalls} send calls, received {Received} (node totals) in {Batches} receive batches, late answers {Late}, handshakes we made {HandshakesOut} and remotes made {HandshakesIn}, records verified {Verified} (cache hits {Hits}); dropped packets: {Drops}; challenges queued past the handler's bound: {ChallengesOverBound}; request timeouts put off while datagrams waited unread: {Deferred}; request attempts retried because the handler had dropped a datagram of their node: {RetriesAfterDrops}", crawlId, end,
                discv5.PacketsSent, discv5.SendCalls, discv5.PacketsReceived, discv5.ReceiveBatches, discv5.LateAnswers, discv5.HandshakesOutbound, discv5.HandshakesInbound, discv5.RecordsVerified, discv5.RecordCacheHits,
                string.Join(", ", discv5.DropCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={kv.Value}")), discv5.ChallengesOverBound, discv5.TimeoutsDeferred, discv5.RetriesAfterDrops);
            // Datagrams lost before our receive loops could read them (a receive buffer too small for the crawl's
            // bursts, Discv5Options.ReceiveBufferSize): logged apart from the handler's own drops, a warning when any.
            if (discv5.KernelReceiveDrops - kernelDropsBefore is long kernelDrops)
                _log.Log(kernelDrops > 0 ? LogLevel.Warning : LogLevel.Information,
                    "crawl {CrawlId}: datagrams dropped by the kernel on the discv5 socket (receive buffer full): {KernelDrops}", crawlId, kernelDrops);
            if (discovery.Window is { } w)
                _log.LogInformation("crawl {CrawlId}: discv5 requests in flight: window {Initial} at the start, {Smallest} at its smallest, {Largest} at its largest, {Current} at the end; halved {ByTimeout} times by first-pass timeouts of nodes that had answered ({FirstPassTimeouts} such timeouts; {SecondPassTimeouts} in the second pass, which do not cut it), {ByBacklog} times by the handler's backlog; answers that did not grow it: {GrowthHeld} while the handler had a backlog, {GrowthUnused} while less than half of it was in use", crawlId,
                    w.Initial, w.Smallest, w.Largest, w.Current, w.CutsByTimeout, w.TimeoutsFirstPass, w.TimeoutsSecondPass, w.CutsByBacklog, w.GrowthHeld, w.GrowthUnused);
            if (dialer.ConnectsShared > 0)
                _log.LogInformation("crawl {CrawlId}: {Shared} dials ended with the failed connect of another record at the same IP and port, without a connect of their own", crawlId, dialer.ConnectsShared);
            // The process's runtime over the crawl: what a crawl allocates and what the collector spent on it
            // (the process's totals since its start; docs/performance.md reads them).
            var gc = GC.GetGCMemoryInfo(GCKind.Any);
            _log.LogInformation("crawl {CrawlId}: runtime: {Allocated} MB allocated, collections gen0 {Gen0} gen1 {Gen1} gen2 {Gen2}, paused {PauseMs} ms, heap {HeapMb} MB after the last collection (promoted {PromotedMb} MB)", crawlId,
                GC.GetTotalAllocatedBytes() >> 20, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
                (long)GC.GetTotalPauseDuration().TotalMilliseconds, gc.HeapSizeBytes >> 20, gc.PromotedBytes >> 20);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !opening.IsFaulted)
        {
            _log.LogError(ex, "crawl {CrawlId} failed", crawlId);
            failure = new CrawlFailure($"the crawl stopped on an error: {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}", "see the log");
            throw;
        }
        finally
        {
            // The crawl row, once it exists, is closed whatever ended the crawl; without it (the database failed)
            // there is nothing to close and the database's error goes to the caller.
            StartOpening(); // discv5 did not start: the crawl row still records the failure
            // the row's failure is rethrown above from crawlRow when the crawl itself did not fail first
            await ((Task)opening).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            (long Id, CrawlLease Lease)? row = opening.IsCompletedSuccessfully ? opening.Result : null;
            storageFailed.Dispose();
            // Everything found is written before the crawl is closed, whatever ended it (the writer retries while the
            // database is away).
            await writer.DisposeAsync().ConfigureAwait(false);
            if (row is { } opened && inbound is not null) await TakeInInboundAsync(inbound, crawls, opened.Id).ConfigureAwait(false);
            if (ownInbound is not null) await ownInbound.DisposeAsync().ConfigureAwait(false);
            if (row is { } r)
            {
                await r.Lease.DisposeAsync().ConfigureAwait(false);
                var counters = engine?.Counters ?? new CrawlCounters();
                var summary = CrawlSummary.From(r.Id, selection.Name, state, started, _time.GetUtcNow(), counters) with
                {
                    MalformedEnrFields = sink?.MalformedEth2Fields ?? 0,
                    EndedBy = endedBy, Error = failure?.Reason, LikelyCause = failure?.LikelyCause,
                    Bootnodes = selection.Bootnodes.Count, BootnodesAllowed = allowedBootnodes.Count,
                };
                var counts = new CrawlCounts((int)counters.NodesFound, (int)counters.ConsensusNodes, (int)counters.Dialled, (int)counters.DialOk, (int)counters.DialFailed);
                LastSummary = summary;
                await RetryAsync(() => crawls.FinishCrawlAsync(r.Id, state, counts, summary.ToJson(), CancellationToken.None)).ConfigureAwait(false);
                // The top clients and fork digests are read from the census rows the finish just built, then written into
                // the summary: counted from the visits while the crawl still ran, they took another pass over all of them
                // (0.5-0.8 s at the end of a 20,000-record crawl). A reader in between sees the summary without them.
                var withTops = await WithTopGroupsAsync(summary, storage, r.Id).ConfigureAwait(false);
                if (!ReferenceEquals(withTops, summary))
                {
                    LastSummary = summary = withTops;
                    await RetryAsync(() => crawls.SetSummaryAsync(r.Id, summary.ToJson(), CancellationToken.None)).ConfigureAwait(false);
                }
            }
        }
        // Crawls whose process died while this one ran are found now rather than at the next start.
        var died = await crawls.MarkInterruptedAsync(settings.Crawl.Lease, CancellationToken.None).ConfigureAwait(false);
        if (died.Count > 0) _log.LogWarning("marked crawls {Ids} failed: their process died (lease expired)", died);
        return LastSummary!;
    }

    // Prepares the database (when asked), marks crawls whose process died, writes this crawl's row and starts its lease.
    private async Task<(long Id, CrawlLease Lease)> OpenCrawlAsync(CrawlStore crawls, NetworkSelection selection, DateTimeOffset started)
    {
        string parameters = JsonSerializer.Serialize(new
        {
            network = selection.Name,
            vantage = settings.Vantage,
            bootnodes = selection.Bootnodes.Select(b => b.ToText()),
            settings.Crawl.AllowLoopback,
            settings.Crawl.AllowPrivate,
            max_duration_s = settings.Crawl.MaxDuration?.TotalSeconds,
            settings.Crawl.DialConcurrency,
            settings.Crawl.DiscoveryConcurrency,
            dial_timeout_s = settings.Crawl.DialTimeout.TotalSeconds,
            connect_timeout_s = settings.Crawl.ConnectTimeout.TotalSeconds,
            // The network's clock, so that sync health can be computed for any network, custom ones included.
            network_name = selection.Network?.Name,
            genesis_time = selection.Network?.GenesisTime,
            seconds_per_slot = selection.Network?.SecondsPerSlot,
            slots_per_epoch = selection.Network?.SlotsPerEpoch,
            // A custom network's fork schedule, so that readiness can be computed for it later (--config-yaml).
            genesis_validators_root = settings.ConfigYaml is null ? null : selection.Network?.GenesisValidatorsRoot.ToString(),
            config_yaml = settings.ConfigYaml is { } yaml && selection.Network is not null ? File.ReadAllText(yaml) : null,
        });
        if (PrepareStorage is { } prepare) await prepare(CancellationToken.None).ConfigureAwait(false);
        var interrupted = await crawls.MarkInterruptedAsync(settings.Crawl.Lease, CancellationToken.None).ConfigureAwait(false);
        if (interrupted.Count > 0) _log.LogWarning("marked crawls {Ids} failed: their process died (lease expired)", interrupted);
        long crawlId = await crawls.StartCrawlAsync(selection.Name, settings.Vantage, started, parameters, null, CancellationToken.None).ConfigureAwait(false);
        _log.LogInformation("crawl {CrawlId} of {Network} from vantage {Vantage} started from {Bootnodes} bootnodes into {Db}", crawlId, selection.Name, settings.Vantage, selection.Bootnodes.Count, storage.Describe());
        return (crawlId, new CrawlLease(crawls, crawlId, settings.Crawl.Lease, _time, _log));
    }

    /// <summary>The nodes that contacted us (<see cref="CrawlStore.ApplyInboundAsync"/>): written before the crawl closes, so
    /// that its census counts them. A database that is away only leaves them out (logged).</summary>
    private async Task TakeInInboundAsync(Inbound.InboundHost inbound, CrawlStore crawls, long crawlId)
    {
        try
        {
            _log.LogInformation("crawl {CrawlId}: {Inbound}", crawlId, inbound.Describe());
            await inbound.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await crawls.ApplyInboundAsync(crawlId, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or StorageWriteException or InvalidOperationException)
        {
            _log.LogWarning(ex, "crawl {CrawlId}: the nodes that contacted us could not be taken in", crawlId);
        }
    }

    /// <summary>Which records discovery may contact: a UDP endpoint the address policy allows.</summary>
    public static Func<Enr, bool> ContactFilter(AddressPolicy policy) => enr => enr.UdpEndPoint is { Port: > 0 } ep && policy.IsAllowed(ep.Address);

    // The top clients and fork digests of the crawl, counted by the census from what was written (the summary tells
    // what was crawled, as Nebula's prints agents and errors). A database that is away only leaves them out.
    private async Task<CrawlSummary> WithTopGroupsAsync(CrawlSummary summary, StorageOptions options, long crawlId)
    {
        try
        {
            var census = new CensusService(options);
            async Task<IReadOnlyList<SummaryGroup>> TopAsync(CensusDimension d)
            {
                var r = await census.GetCensusAsync(d, crawlId, null, CancellationToken.None).ConfigureAwait(false);
                return r is null ? [] : r.Groups.Take(CrawlSummary.TopCount).Select(g => new SummaryGroup(g.Key, g.Label, g.Count, Math.Round(g.Share, 4))).ToList();
            }
            return summary with { TopClients = await TopAsync(CensusDimension.Client).ConfigureAwait(false), TopForkDigests = await TopAsync(CensusDimension.ForkDigest).ConfigureAwait(false) };
        }
        catch (System.Data.Common.DbException ex)
        {
            _log.LogWarning(ex, "crawl {CrawlId}: the summary's top clients and fork digests could not be counted", crawlId);
            return summary;
        }
    }

    /// <summary>
    /// Why a crawl that ran to its end reached nobody, or null when some node answered discovery. A crawl that no node
    /// answered has found nothing but its bootnodes: it is failed, with the reason and the likely cause.
    /// </summary>
    public static CrawlFailure? Diagnose(IReadOnlyList<Enr> bootnodes, int allowed, long answered, long sent, long sendErrors, AddressPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(bootnodes);
        ArgumentNullException.ThrowIfNull(policy);
        if (answered > 0) return null;
        if (allowed == 0)
        {
            var scopes = bootnodes.Select(b => b.UdpEndPoint is { } ep ? AddressPolicy.Classify(ep.Address) : AddressScope.Reserved).ToList();
            int loopback = scopes.Count(x => x == AddressScope.Loopback), lan = scopes.Count(x => x == AddressScope.Private);
            string cause = loopback > 0 && !policy.AllowLoopback ? "loopback not allowed: add --allow-loopback for a local testnet"
                : lan > 0 && !policy.AllowPrivate ? "private addresses not allowed: add --allow-private for a LAN testnet"
                : "the bootnodes have no usable UDP address: check their ENRs";
            return new CrawlFailure(
                $"the address policy refused all {bootnodes.Count} bootnode(s) ({loopback} loopback, {lan} private, {bootnodes.Count - loopback - lan} other), so nobody was contacted",
                cause);
        }
        if (sent == 0 && sendErrors > 0)
            return new CrawlFailure($"no packet could be sent to any of the {allowed} bootnode(s) ({sendErrors} send errors)", "no network: this machine has no route to the bootnodes");
        return new CrawlFailure($"none of the {allowed} bootnode(s) answered discovery",
            "no network, UDP blocked by a firewall, or stale bootnodes (check connectivity, or pass current ones with --bootnode)");
    }

    /// <summary>The summary of the last crawl this session ran.</summary>
    public CrawlSummary? LastSummary { get; private set; }

    /// <summary>The beacon dialer of a crawl or a re-dial: the crawler's key, the network's registry, the dial deadline.</summary>
    public static BeaconDialer CreateDialer(CrawlerSettings settings, NetworkSelection selection, byte[] key, ILoggerFactory loggers, TimeProvider? time = null) =>
        new(CreateDialerOptions(settings, selection, key), loggers, time);

    /// <summary>
    /// Each upgrade step of a dial (security and muxer negotiation, the Noise handshake) and each stream's protocol
    /// negotiation: one round trip, and a second when a TCP segment is lost (resent after Linux's 200 ms minimum RTO
    /// plus a round trip). A peer whose replies take 3 s needs 6.2 s for such a step; with the libp2p library's 5 s,
    /// 5-7 of the simulator's 8,000 dialable nodes (round trips of 2.3-3 s) ended `timeout` in one of these steps in every
    /// 20,000-record crawl (docs/performance.md). The whole dial stays bounded by its deadline (--dial-timeout).
    /// </summary>
    public static readonly TimeSpan DialStepTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The options of the crawler's dialer (and of its inbound listener, which speaks the same stack).</summary>
    public static BeaconDialerOptions CreateDialerOptions(CrawlerSettings settings, NetworkSelection selection, byte[] key) =>
        new()
        {
            Libp2p = new Libp2pOptions
            {
                Identity = Identity.FromSecp256k1PrivateKey(key),
                AgentVersion = AgentVersion,
                ConnectTimeout = settings.Crawl.ConnectTimeout,
                HandshakeTimeout = DialStepTimeout,
                StreamTimeout = DialStepTimeout,
            },
            TotalTimeout = settings.Crawl.DialTimeout,
            Registry = selection.Registry,
            DefaultNetwork = selection.Network?.Name,
        };

    public static string AgentVersion { get; } =
        "clp2p/" + (typeof(CrawlSession).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    /// <summary>Renews a running crawl's lease every quarter of it until disposed (then the crawl is closed by its owner).</summary>
    private sealed class CrawlLease : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public CrawlLease(CrawlStore crawls, long crawlId, TimeSpan lease, TimeProvider time, ILogger log)
        {
            _loop = Task.Run(async () =>
            {
                var every = lease / 4;
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(every, time, _stop.Token).ConfigureAwait(false);
                        if (!await crawls.RenewLeaseAsync(crawlId, _stop.Token).ConfigureAwait(false))
                            log.LogWarning("crawl {CrawlId} is no longer running in the database (another process marked it); its results are still written", crawlId);
                    }
                    catch (OperationCanceledException) { break; }
#pragma warning disable CA1031 // the database may be away; the writer retries, the next renewal may succeed
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        log.LogWarning("renewing the lease of crawl {CrawlId} failed: {Error}", crawlId, ex.Message);
                    }
                }
            });
        }

        public async ValueTask DisposeAsync()
        {
            if (_stop.IsCancellationRequested) return;
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
            _stop.Dispose();
        }
    }

    /// <summary>Retries a database call while the database is unreachable (up to about two minutes).</summary>
    private async Task RetryAsync(Func<Task> action)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        var deadline = _time.GetUtcNow() + TimeSpan.FromMinutes(2);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await action().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (_time.GetUtcNow() < deadline && ex is not ArgumentException and not KeyNotFoundException)
            {
                _log.LogWarning("closing the crawl failed (attempt {Attempt}): {Error}; retrying in {Delay}", attempt, ex.Message, delay);
                await Task.Delay(delay, _time).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
