using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ClP2p.Storage;

/// <summary>Tuning of a <see cref="ResultWriter"/>.</summary>
public sealed record ResultWriterOptions
{
    /// <summary>
    /// Items (ENRs, visits, geo rows) buffered before producers wait. Never dropped. At most
    /// Capacity + (WriteConcurrency + 1) × MaxBatchSize items are held in memory (buffer, batches being written,
    /// the next batch).
    /// </summary>
    public int Capacity { get; init; } = 100_000;
    /// <summary>Most items written in one transaction.</summary>
    public int MaxBatchSize { get; init; } = 5_000;
    /// <summary>
    /// Batches written at the same time, each in its own transaction and connection (PostgreSQL only; SQLite has one
    /// writer). Batches are independent (each upserts the nodes and agents its visits need), so order does not matter.
    /// </summary>
    public int WriteConcurrency { get; init; } = 2;
    /// <summary>
    /// Node rows the writer remembers having stored (PostgreSQL), so that visits of those nodes send no node statement.
    /// About 100 bytes each; 0 turns it off.
    /// </summary>
    public int KnownNodeCapacity { get; init; } = 262_144;
    /// <summary>How long the writer waits for more items to fill a batch before writing a partial one.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>First delay after a failed write; doubles per failure up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Cap of the retry delay.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// A batch that fails with a non-transient error (bad data, constraint violation: our bug, not an outage) is
    /// retried this many times, then logged as an error, counted in clp2p.storage.rows_dropped and skipped so it
    /// cannot block every later result. Transient errors (database down or restarting) are retried without limit.
    /// </summary>
    public int MaxPermanentFailures { get; init; } = 3;
    /// <summary>How long <see cref="ResultWriter.DisposeAsync"/> keeps retrying to write what is buffered.</summary>
    public TimeSpan DisposeTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>Thrown to a <see cref="ResultWriter.FlushAsync"/> caller when a batch was dropped after permanent errors.</summary>
public sealed class StorageWriteException : Exception
{
    /// <param name="message">Which batch was dropped and why.</param>
    /// <param name="inner">The last error of the batch's write.</param>
    public StorageWriteException(string message, Exception? inner) : base(message, inner) { }
    /// <inheritdoc />
    public StorageWriteException() { }
    /// <inheritdoc />
    public StorageWriteException(string message) : base(message) { }
}

/// <summary>
/// Bulk, batched, resilient writer of crawl results. Producers (the crawler's discovery and dial workers) push
/// observations; one background loop takes them from a bounded channel in batches and writes each batch in one
/// transaction:
/// nodes upserted (first/last seen, latest seq, public key, peer id), ENR history inserted once per (node, seq),
/// agent strings deduplicated, geo rows upserted, visits appended. PostgreSQL uses unnest(arrays) upserts and
/// binary COPY; SQLite uses prepared statements in one transaction.
/// <para>
/// A failed write (database down or restarting) is retried with capped exponential backoff, keeping the batch;
/// meanwhile new results wait in the bounded buffer, and producers wait when it is full: nothing is dropped while
/// the buffer has room. Metrics (meter "ClP2p.Storage"): clp2p.storage.rows_written (tag table),
/// clp2p.storage.write_retries, clp2p.storage.rows_dropped, clp2p.storage.write_latency (ms),
/// clp2p.storage.queue_depth.
/// </para>
/// Thread-safe for producers. Dispose (await using) to flush and stop.
/// </summary>
public sealed class ResultWriter : IAsyncDisposable
{
    /// <summary>The meter name of the storage metrics.</summary>
    public const string MeterName = "ClP2p.Storage";

    private readonly ResultWriterOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<object> _channel;
    private readonly IBatchSink _sink;
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _rowsWritten;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _rowsDropped;
    private readonly Histogram<double> _writeLatency;
    private readonly CancellationTokenSource _hardStop = new();
    private readonly Task _loop;
    private readonly Task? _ready;
    private readonly int _concurrency;
    private Exception? _droppedSinceFlush;
    private long _queueDepth;
    private long _retryCount;
    private long _visitsWritten;
    private int _disposed;

    /// <summary>Creates the writer and starts its background loop. The database must be migrated.</summary>
    /// <param name="storage">Which database.</param>
    /// <param name="options">Tuning; defaults when null.</param>
    /// <param name="logger">Warnings on retry, errors on dropped batches.</param>
    /// <param name="meterFactory">Source of the "ClP2p.Storage" meter; a private meter when null.</param>
    /// <param name="time">Clock for retry delays and linger; the system clock when null.</param>
    /// <param name="ready">
    /// When given, nothing is written before it completes (the database is migrated and the crawl row exists): items
    /// wait in the buffer meanwhile. If it fails, what was and will be added is discarded (the caller reports the
    /// failure), so no producer waits for ever.
    /// </param>
    public ResultWriter(StorageOptions storage, ResultWriterOptions? options = null, ILogger<ResultWriter>? logger = null,
        IMeterFactory? meterFactory = null, TimeProvider? time = null, Task? ready = null)
    {
        _ready = ready;
        ArgumentNullException.ThrowIfNull(storage);
        _options = options ?? new ResultWriterOptions();
        if (_options.Capacity < 1) throw new ArgumentOutOfRangeException(nameof(options), "Capacity must be positive");
        if (_options.MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxBatchSize must be positive");
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _channel = Channel.CreateBounded<object>(new BoundedChannelOptions(_options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _sink = storage.Provider == StorageProvider.Postgres ? new PostgresBatchSink(storage, _options.KnownNodeCapacity) : new SqliteBatchSink(storage);
        _concurrency = storage.Provider == StorageProvider.Postgres ? Math.Max(1, _options.WriteConcurrency) : 1;

        Meter meter = meterFactory?.Create(MeterName) ?? (_ownedMeter = new Meter(MeterName));
        _rowsWritten = meter.CreateCounter<long>("clp2p.storage.rows_written", "rows", "Rows written, by table");
        _retries = meter.CreateCounter<long>("clp2p.storage.write_retries", "retries", "Batch writes retried after an error");
        _rowsDropped = meter.CreateCounter<long>("clp2p.storage.rows_dropped", "rows", "Items dropped after permanent (non-transient) write errors");
        _writeLatency = meter.CreateHistogram<double>("clp2p.storage.write_latency", "ms", "Time to write one batch");
        meter.CreateObservableGauge("clp2p.storage.queue_depth", () => Interlocked.Read(ref _queueDepth), "items", "Items buffered and not yet written");

        _loop = Task.Run(RunAsync);
    }

    /// <summary>Items accepted and not yet written (buffered or in the batch being written).</summary>
    public long QueueDepth => Interlocked.Read(ref _queueDepth);

    /// <summary>Failed batch writes retried so far.</summary>
    public long Retries => Interlocked.Read(ref _retryCount);

    /// <summary>Visits written so far.</summary>
    public long VisitsWritten => Interlocked.Read(ref _visitsWritten);

    /// <summary>Queues an ENR. Waits while the buffer is full.</summary>
    public ValueTask AddEnrAsync(EnrObservation observation, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(observation);
        if (observation.NodeId is not { Length: > 0 }) throw new ArgumentException("NodeId is required", nameof(observation));
        return EnqueueAsync(observation, ct);
    }

    /// <summary>Queues a visit. Waits while the buffer is full.</summary>
    public ValueTask AddVisitAsync(VisitObservation observation, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(observation);
        if (observation.NodeId is not { Length: > 0 }) throw new ArgumentException("NodeId is required", nameof(observation));
        return EnqueueAsync(WithoutNul(observation), ct);
    }

    /// <summary>
    /// The visit with NUL characters replaced by U+FFFD in its text fields. A visit carries text a remote peer chose
    /// (its agent string, error texts quoting what it sent); PostgreSQL text cannot hold NUL, and one such visit would
    /// otherwise fail, and finally drop, the whole batch it is in.
    /// </summary>
    internal static VisitObservation WithoutNul(VisitObservation v)
    {
        if (!HasNul(v.Kind) && !HasNul(v.Ip) && !HasNul(v.DiscoveryError) && !HasNul(v.DialOutcome) && !HasNul(v.DialError)
            && !HasNul(v.FailedStep) && !HasNul(v.AgentVersion) && !HasNul(v.Client) && !HasNul(v.ClientVersion)
            && !HasNul(v.Os) && !HasNul(v.Arch) && !HasNul(v.PeerId) && !HasNul(v.Muxer))
            return v;
        return v with
        {
            Kind = Sql.PgText(v.Kind)!,
            Ip = Sql.PgText(v.Ip),
            DiscoveryError = Sql.PgText(v.DiscoveryError),
            DialOutcome = Sql.PgText(v.DialOutcome)!,
            DialError = Sql.PgText(v.DialError),
            FailedStep = Sql.PgText(v.FailedStep),
            AgentVersion = Sql.PgText(v.AgentVersion),
            Client = Sql.PgText(v.Client),
            ClientVersion = Sql.PgText(v.ClientVersion),
            Os = Sql.PgText(v.Os),
            Arch = Sql.PgText(v.Arch),
            PeerId = Sql.PgText(v.PeerId),
            Muxer = Sql.PgText(v.Muxer),
        };
    }

    private static bool HasNul(string? s) => s is not null && s.Contains('\0', StringComparison.Ordinal);

    /// <summary>Queues geo/ASN data for an IP. Waits while the buffer is full.</summary>
    public ValueTask AddGeoAsync(IpGeo geo, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(geo);
        ArgumentException.ThrowIfNullOrEmpty(geo.Ip);
        return EnqueueAsync(geo, ct);
    }

    private async ValueTask EnqueueAsync(object item, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Interlocked.Increment(ref _queueDepth);
        try
        {
            await _channel.Writer.WriteAsync(item, ct).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _queueDepth);
            throw;
        }
    }

    /// <summary>
    /// Completes when every item added before this call has been written (retrying through outages as needed).
    /// Throws <see cref="StorageWriteException"/> if some of them were dropped after permanent errors.
    /// </summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var marker = new FlushMarker();
        await _channel.Writer.WriteAsync(marker, ct).ConfigureAwait(false);
        await marker.Done.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting items, writes what is buffered (retrying for up to <see cref="ResultWriterOptions.DisposeTimeout"/>),
    /// then stops. Items still unwritten after the timeout are logged as lost.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _channel.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(_options.DisposeTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogError("Storage writer stopped after {Timeout} with {Items} items unwritten", _options.DisposeTimeout, QueueDepth);
            await _hardStop.CancelAsync().ConfigureAwait(false);
            try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        _hardStop.Dispose();
        await _sink.DisposeAsync().ConfigureAwait(false);
        _ownedMeter?.Dispose();
    }

    private sealed class FlushMarker
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task RunAsync()
    {
        var batch = new Batch();
        var flushes = new List<FlushMarker>();
        var inflight = new List<Task>();
        ChannelReader<object> reader = _channel.Reader;
        CancellationToken stop = _hardStop.Token;
        if (_ready is not null && !await WaitReadyAsync(reader, stop).ConfigureAwait(false)) return;
        try
        {
            while (await reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                bool flushRequested = Drain(reader, batch, flushes);
                // Linger a little to fill the batch when the producers are slow, unless someone waits on a flush.
                if (!flushRequested && batch.Count < _options.MaxBatchSize && _options.Linger > TimeSpan.Zero)
                {
                    long deadline = _time.GetTimestamp() + (long)(_options.Linger.TotalSeconds * _time.TimestampFrequency);
                    while (!flushRequested && batch.Count < _options.MaxBatchSize)
                    {
                        long now = _time.GetTimestamp();
                        if (now >= deadline) break;
                        TimeSpan left = _time.GetElapsedTime(now, deadline);
                        using var lingerTimeout = new CancellationTokenSource(left, _time);
                        using var lingerCts = CancellationTokenSource.CreateLinkedTokenSource(stop, lingerTimeout.Token);
                        try
                        {
                            if (!await reader.WaitToReadAsync(lingerCts.Token).ConfigureAwait(false)) break;
                        }
                        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                        {
                            break;
                        }
                        flushRequested = Drain(reader, batch, flushes);
                    }
                }
                if (batch.Count > 0)
                {
                    while (inflight.Count >= _concurrency)
                        inflight.Remove(await Task.WhenAny(inflight).ConfigureAwait(false));
                    inflight.Add(WriteAndRecordAsync(batch, stop));
                    batch = new Batch();
                }
                if (flushes.Count > 0)
                {
                    await Task.WhenAll(inflight).ConfigureAwait(false);
                    inflight.Clear();
                    Exception? dropped = Interlocked.Exchange(ref _droppedSinceFlush, null);
                    foreach (FlushMarker f in flushes)
                    {
                        if (dropped is null) f.Done.TrySetResult();
                        else f.Done.TrySetException(new StorageWriteException("a batch was dropped after permanent write errors", dropped));
                    }
                    flushes.Clear();
                }
            }
            await Task.WhenAll(inflight).ConfigureAwait(false);
            inflight.Clear();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // hard stop after the dispose timeout: what is left is reported by DisposeAsync
        }
        finally
        {
            try { await Task.WhenAll(inflight).ConfigureAwait(false); } catch (OperationCanceledException) { }
            foreach (FlushMarker f in flushes) f.Done.TrySetCanceled();
            while (reader.TryRead(out object? item))
                if (item is FlushMarker f) f.Done.TrySetCanceled();
        }
    }

    // True when the database is ready; false when it failed, after discarding everything added until the writer is
    // disposed (flushes fail with the database's error).
    private async Task<bool> WaitReadyAsync(ChannelReader<object> reader, CancellationToken stop)
    {
        Exception failure;
        try
        {
            await _ready!.WaitAsync(stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return false;
        }
#pragma warning disable CA1031 // the caller awaits the same task and reports its failure; here it only ends the writing
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }
        long discarded = 0;
        try
        {
            while (await reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                while (reader.TryRead(out object? item))
                {
                    if (item is FlushMarker f) { f.Done.TrySetException(new StorageWriteException("the database never became ready", failure)); continue; }
                    discarded++;
                    Interlocked.Decrement(ref _queueDepth);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        if (discarded > 0) _logger.LogWarning("Storage writer discarded {Items} items: the database never became ready ({Error})", discarded, failure.Message);
        return false;
    }

    private async Task WriteAndRecordAsync(Batch batch, CancellationToken stop)
    {
        await Task.Yield(); // let the loop gather the next batch while this one is written
        Exception? dropped = await WriteWithRetryAsync(batch, stop).ConfigureAwait(false);
        if (dropped is not null) Interlocked.CompareExchange(ref _droppedSinceFlush, dropped, null);
    }

    private bool Drain(ChannelReader<object> reader, Batch batch, List<FlushMarker> flushes)
    {
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out object? item))
        {
            switch (item)
            {
                case FlushMarker f:
                    flushes.Add(f);
                    return true;
                case VisitObservation v:
                    batch.Visits.Add(v);
                    break;
                case EnrObservation e:
                    batch.Enrs.Add(e);
                    break;
                case IpGeo g:
                    batch.Geos.Add(g);
                    break;
            }
        }
        return false;
    }

    private async Task<Exception?> WriteWithRetryAsync(Batch batch, CancellationToken stop)
    {
        TimeSpan delay = _options.InitialRetryDelay;
        int permanentFailures = 0;
        for (int attempt = 1; ; attempt++)
        {
            long started = _time.GetTimestamp();
            try
            {
                WriteResult result = await _sink.WriteAsync(batch, stop).ConfigureAwait(false);
                _writeLatency.Record(_time.GetElapsedTime(started).TotalMilliseconds);
                _rowsWritten.Add(result.Visits, new KeyValuePair<string, object?>("table", "visits"));
                _rowsWritten.Add(result.Enrs, new KeyValuePair<string, object?>("table", "enr_history"));
                _rowsWritten.Add(result.Nodes, new KeyValuePair<string, object?>("table", "nodes"));
                _rowsWritten.Add(result.Geos, new KeyValuePair<string, object?>("table", "ip_addresses"));
                _rowsWritten.Add(result.Agents, new KeyValuePair<string, object?>("table", "agent_versions"));
                Interlocked.Add(ref _visitsWritten, batch.Visits.Count);
                Interlocked.Add(ref _queueDepth, -batch.Count);
                if (attempt > 1)
                    _logger.LogInformation("Storage write succeeded after {Attempts} attempts ({Items} items)", attempt, batch.Count);
                return null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                bool transient = IsTransient(ex);
                if (!transient && ++permanentFailures >= _options.MaxPermanentFailures)
                {
                    _logger.LogError(ex, "Storage batch of {Items} items dropped after {Failures} permanent errors", batch.Count, permanentFailures);
                    _rowsDropped.Add(batch.Count);
                    Interlocked.Add(ref _queueDepth, -batch.Count);
                    return ex;
                }
                Interlocked.Increment(ref _retryCount);
                _retries.Add(1);
                _logger.LogWarning("Storage write of {Items} items failed (attempt {Attempt}, {Kind}: {Error}); retrying in {Delay} ms",
                    batch.Count, attempt, transient ? "transient" : "permanent", ex.Message, (long)delay.TotalMilliseconds);
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
        }
    }

    /// <summary>True for errors of an outage (connection lost, server restarting, busy file) rather than of the data.</summary>
    internal static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("57", StringComparison.Ordinal) || pg.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException => true, // connection-level failures (refused, reset, timeout) carry no SQL state
        SqliteException s => s.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // BUSY, LOCKED, IOERR, FULL, CANTOPEN
        SocketException or IOException or TimeoutException => true,
        InvalidOperationException when ex.InnerException is not null => IsTransient(ex.InnerException),
        _ => false,
    };
}

/// <summary>One batch of items, written in one transaction.</summary>
internal sealed class Batch
{
    public List<EnrObservation> Enrs { get; } = [];
    public List<VisitObservation> Visits { get; } = [];
    public List<IpGeo> Geos { get; } = [];
    public int Count => Enrs.Count + Visits.Count + Geos.Count;
}

/// <summary>Rows touched by one batch write.</summary>
internal readonly record struct WriteResult(int Nodes, int Enrs, int Visits, int Geos, int Agents);

/// <summary>Writes a batch in one transaction, or throws leaving the database unchanged.</summary>
internal interface IBatchSink : IAsyncDisposable
{
    Task<WriteResult> WriteAsync(Batch batch, CancellationToken ct);
}

/// <summary>A node row merged from the ENRs and visits of one batch.</summary>
internal sealed class NodeRow
{
    public required byte[] NodeId { get; init; }
    public byte[]? PublicKey { get; set; }
    public string? PeerId { get; set; }
    public DateTime FirstSeen { get; set; }
    public DateTime LastSeen { get; set; }
    public long LatestSeq { get; set; }
    /// <summary>
    /// True when the batch holds an ENR of the node (discovery saw it): the row then moves the node's last_seen.
    /// Rows made from visits only insert unknown nodes and fill in what the node row lacks, without rewriting it.
    /// </summary>
    public bool Sighted { get; set; }

    /// <summary>
    /// Merges the batch's ENRs and visits into one row per node id, sorted by node id (stable lock order). Visits for
    /// which <paramref name="skipVisit"/> is true add nothing (their node's committed row already holds what they
    /// would add), unless their node already has a row in the merge (the batch sights it, or an earlier visit adds to it).
    /// </summary>
    public static List<NodeRow> Merge(Batch batch, Func<VisitObservation, bool>? skipVisit = null)
    {
        var rows = new Dictionary<byte[], NodeRow>(ByteArrayComparer.Instance);
        foreach (EnrObservation e in batch.Enrs)
        {
            NodeRow r = Get(rows, e.NodeId, e.SeenAt.UtcDateTime);
            r.Sighted = true;
            r.PublicKey ??= e.PublicKey;
            r.PeerId ??= e.PeerId;
            r.LatestSeq = Math.Max(r.LatestSeq, unchecked((long)e.Seq));
        }
        foreach (VisitObservation v in batch.Visits)
        {
            if (skipVisit is not null && !rows.ContainsKey(v.NodeId) && skipVisit(v)) continue;
            NodeRow r = Get(rows, v.NodeId, v.VisitedAt.UtcDateTime);
            r.PeerId ??= v.PeerId;
            if (v.EnrSeq is { } seq) r.LatestSeq = Math.Max(r.LatestSeq, unchecked((long)seq));
        }
        var list = rows.Values.ToList();
        list.Sort((a, b) => a.NodeId.AsSpan().SequenceCompareTo(b.NodeId));
        return list;
    }

    private static NodeRow Get(Dictionary<byte[], NodeRow> rows, byte[] id, DateTime seen)
    {
        if (!rows.TryGetValue(id, out NodeRow? r))
        {
            r = new NodeRow { NodeId = id, FirstSeen = seen, LastSeen = seen };
            rows.Add(id, r);
        }
        else
        {
            if (seen < r.FirstSeen) r.FirstSeen = seen;
            if (seen > r.LastSeen) r.LastSeen = seen;
        }
        return r;
    }

    /// <summary>Distinct ENRs of a batch by (node id, seq); the first wins (the same seq means the same record).</summary>
    public static List<EnrObservation> DistinctEnrs(Batch batch)
    {
        var seen = new HashSet<(byte[], ulong)>(new EnrKeyComparer());
        var list = new List<EnrObservation>(batch.Enrs.Count);
        foreach (EnrObservation e in batch.Enrs)
            if (seen.Add((e.NodeId, e.Seq))) list.Add(e);
        list.Sort((a, b) => a.NodeId.AsSpan().SequenceCompareTo(b.NodeId) is var c && c != 0 ? c : a.Seq.CompareTo(b.Seq));
        return list;
    }

    /// <summary>Geo rows by address; the latest lookup wins.</summary>
    public static List<IpGeo> DistinctGeos(Batch batch)
    {
        var map = new Dictionary<string, IpGeo>(StringComparer.Ordinal);
        foreach (IpGeo g in batch.Geos)
            if (!map.TryGetValue(g.Ip, out IpGeo? old) || old.LookedUpAt <= g.LookedUpAt) map[g.Ip] = g;
        return map.Values.OrderBy(g => g.Ip, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Distinct agent strings of the batch's visits with their parsed parts (the first seen wins), in ordinal order,
    /// leaving out those <paramref name="skip"/> says are stored already.
    /// </summary>
    public static List<KeyValuePair<string, VisitObservation>> DistinctAgents(Batch batch, Func<string, bool>? skip = null)
    {
        var map = new Dictionary<string, VisitObservation>(StringComparer.Ordinal);
        foreach (VisitObservation v in batch.Visits)
            if (v.AgentVersion is { } a && !map.ContainsKey(a) && (skip is null || !skip(a))) map.Add(a, v);
        var list = map.ToList();
        list.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
        return list;
    }

    private sealed class EnrKeyComparer : IEqualityComparer<(byte[] Id, ulong Seq)>
    {
        public bool Equals((byte[] Id, ulong Seq) x, (byte[] Id, ulong Seq) y) => x.Seq == y.Seq && x.Id.AsSpan().SequenceEqual(y.Id);
        public int GetHashCode((byte[] Id, ulong Seq) obj) => HashCode.Combine(ByteArrayComparer.Instance.GetHashCode(obj.Id), obj.Seq);
    }
}

/// <summary>Content equality for byte arrays (node ids).</summary>
internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();
    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
