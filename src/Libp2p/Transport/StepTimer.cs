namespace ClP2p.Libp2p.Transport;

/// <summary>
/// The deadline of one step (a dial step, a request, a grace period): its <see cref="Token"/> fires after a timeout
/// measured by a <see cref="TimeProvider"/>, or with the caller's token, whichever comes first.
/// </summary>
public sealed class StepTimer : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _registration;
    private TaskCompletionSource? _expired;
    private CancellationTokenRegistration _expiredRegistration;

    public StepTimer(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        _cts = timeout == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(timeout, time);
        _registration = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>True when the timeout (or the caller's token) has fired.</summary>
    public bool IsCancellationRequested => _cts.IsCancellationRequested;

    /// <summary>Completes (never faults) when the timeout or the caller's token fires: the other side of a
    /// <c>Task.WhenAny</c> with the event the step waits for.</summary>
    public Task Expired
    {
        get
        {
            if (_expired is null)
            {
                var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _expiredRegistration = _cts.Token.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), expired);
                _expired = expired;
            }
            return _expired.Task;
        }
    }

    public void Dispose()
    {
        _expiredRegistration.Dispose();
        _registration.Dispose();
        _cts.Dispose();
    }
}
