using Microsoft.Data.Sqlite;

namespace ClP2p.Storage.Tests;

[CollectionDefinition(nameof(OutageCollection), DisableParallelization = true)]
public sealed class OutageCollection;

/// <summary>
/// Writes while the database is unavailable: PostgreSQL is stopped with CLP2P_TEST_PGCTL and started again; a SQLite
/// file is held under an exclusive lock by another connection. These run alone (they stop the shared cluster).
/// </summary>
[Collection(nameof(OutageCollection))]
public class OutageTests
{
    /// <summary>Makes the database unavailable until the returned handle is disposed.</summary>
    private static async Task<IAsyncDisposable> MakeUnavailableAsync(TestDatabase db)
    {
        if (db.Provider == StorageProvider.Postgres)
        {
            await TestDatabase.PgCtlAsync("stop");
            return new Restart(async () =>
            {
                await TestDatabase.PgCtlAsync("start");
                StorageOptions.ClearPostgresPools(); // the test's own reads must not reuse connections of the old server
            });
        }
        var conn = new SqliteConnection(db.Options.ConnectionString);
        await conn.OpenAsync();
        await using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "BEGIN EXCLUSIVE";
            await cmd.ExecuteNonQueryAsync();
        }
        return new Restart(async () =>
        {
            await using (var cmd = conn.CreateCommand())
            {
                cmd.CommandText = "ROLLBACK";
                await cmd.ExecuteNonQueryAsync();
            }
            await conn.DisposeAsync();
        });
    }

    private sealed class Restart(Func<Task> action) : IAsyncDisposable
    {
        private int _done;
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) await action();
        }
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_write_during_a_database_restart_is_retried_and_lands(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider, sqliteBusyTimeoutSeconds: 1);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        using var retries = new RetryWatch();
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter(), meterFactory: retries);
        await writer.AddVisitAsync(Samples.Visit(crawl, 0));
        await writer.FlushAsync();

        IAsyncDisposable outage = await MakeUnavailableAsync(db);
        try
        {
            for (int i = 1; i <= 500; i++)
            {
                await writer.AddEnrAsync(Samples.Enr(i, 1));
                await writer.AddVisitAsync(Samples.Visit(crawl, i));
            }
            await writer.AddGeoAsync(new IpGeo { Ip = "10.0.0.1", Country = "NL", LookedUpAt = Samples.T0 });
            var retried = retries.NextRetries(2);
            Task flush = writer.FlushAsync();
            await retried.WaitAsync(HangGuard); // the writer met the outage and retried, twice
            Assert.False(flush.IsCompleted, "the flush cannot complete while the database is down");
            await outage.DisposeAsync();
            await flush.WaitAsync(HangGuard);
        }
        finally
        {
            await outage.DisposeAsync();
        }
        Assert.Equal(501, await db.CountAsync("visits"));
        Assert.Equal(501, await db.CountAsync("nodes"));
        Assert.Equal(500, await db.CountAsync("enr_history"));
        Assert.Equal(1, await db.CountAsync("ip_addresses"));
        Assert.Equal(0, writer.QueueDepth);
    }

    [Theory, MemberData(nameof(TestDatabase.Providers), MemberType = typeof(TestDatabase))]
    public async Task A_full_buffer_makes_producers_wait_and_loses_nothing(StorageProvider provider)
    {
        await using TestDatabase db = await TestDatabase.CreateAsync(provider, sqliteBusyTimeoutSeconds: 1);
        long crawl = await new CrawlStore(db.Options).StartCrawlAsync("mainnet", Samples.T0, null);
        const int capacity = 10, batch = 5, total = 100;
        using var retries = new RetryWatch();
        await using var writer = new ResultWriter(db.Options, Samples.FastWriter(capacity) with { MaxBatchSize = batch }, meterFactory: retries);
        await writer.AddVisitAsync(Samples.Visit(crawl, 0));
        await writer.FlushAsync(); // warm: the agent string is cached, the pool is open

        IAsyncDisposable outage = await MakeUnavailableAsync(db);
        int accepted = 0;
        Task producer;
        try
        {
            producer = Task.Run(async () =>
            {
                for (int i = 1; i <= total; i++)
                {
                    await writer.AddVisitAsync(Samples.Visit(crawl, i));
                    Interlocked.Increment(ref accepted);
                }
            });
            // Wait until the producer stops making progress: it is blocked on the full buffer. The writer's retries
            // are the clock: no progress across three of them in a row means blocked, not slow.
            int last = -1;
            for (int stable = 0; stable < 3;)
            {
                await retries.NextRetries().WaitAsync(HangGuard);
                int now = Volatile.Read(ref accepted);
                stable = now == last ? stable + 1 : 0;
                last = now;
            }
            Assert.False(producer.IsCompleted, "the producer must wait while the buffer is full");
            // Held: the channel (capacity), the batches being retried (one per concurrent write) and the next batch,
            // gathered while it waits for a write slot.
            int inFlight = batch * (1 + (provider == StorageProvider.Postgres ? new ResultWriterOptions().WriteConcurrency : 1));
            Assert.InRange(Volatile.Read(ref accepted), capacity, capacity + inFlight);
            Assert.InRange(writer.QueueDepth, capacity + 1, capacity + inFlight + 1);
            await outage.DisposeAsync();
            await producer.WaitAsync(HangGuard);
            await writer.FlushAsync().WaitAsync(HangGuard);
        }
        finally
        {
            await outage.DisposeAsync();
        }
        Assert.Equal(total + 1, await db.CountAsync("visits"));
        Assert.Equal(total, accepted);
    }
}
