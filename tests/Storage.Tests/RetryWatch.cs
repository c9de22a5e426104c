using System.Diagnostics.Metrics;

namespace ClP2p.Storage.Tests;

/// <summary>
/// A meter factory for one <see cref="ResultWriter"/> that watches its write-retry counter, so a test waits for the
/// writer's retries (events) instead of for time. Other writers in the process are not counted.
/// </summary>
internal sealed class RetryWatch : IMeterFactory
{
    private readonly List<Meter> _meters = [];
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private readonly MeterListener _listener = new();
    private long _retries;

    public RetryWatch()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            bool ours;
            lock (_meters) ours = _meters.Contains(instrument.Meter);
            if (ours && instrument.Name == "clp2p.storage.write_retries") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) =>
        {
            lock (_waiters)
            {
                _retries += value;
                foreach (var w in _waiters.Where(w => _retries >= w.Target)) w.Done.TrySetResult();
                _waiters.RemoveAll(w => w.Done.Task.IsCompleted);
            }
        });
        _listener.Start();
    }

    /// <summary>Completes once the writer has retried <paramref name="more"/> more times than it has so far.</summary>
    public Task NextRetries(int more = 1)
    {
        lock (_waiters)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((_retries + more, done));
            return done.Task;
        }
    }

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters) _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        _listener.Dispose();
        lock (_meters) _meters.ForEach(m => m.Dispose());
    }
}
