using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ClP2p.Storage;

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
        _sink = storage.Provider == StorageProvider.Postgres ? new PostgresBatchSink(storage, _options.KnownNodeCapacity, _time) : new SqliteBatchSink(storage, _time);
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
            try { await _loop.ConfigureAwait(false); }
            catch (OperationCanceledException)
            {
                // our own hard stop, just requested; the loss is logged above
            }
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
            try { await Task.WhenAll(inflight).ConfigureAwait(false); }
            catch (OperationCanceledException)
            {
                // writes cut by the hard stop: DisposeAsync reports what was left
            }
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
