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
