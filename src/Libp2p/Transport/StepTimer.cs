namespace ClP2p.Libp2p.Transport;

/// <summary>
/// The deadline of one step (a dial step, a request, a grace period): its <see cref="Token"/> fires after a timeout
/// measured by a <see cref="TimeProvider"/>, or with the caller's token, whichever comes first.
/// </summary>
public sealed class StepTimer : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _registration;

    public StepTimer(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        _cts = timeout == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(timeout, time);
        _registration = ct.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>True when the timeout (or the caller's token) has fired.</summary>
    public bool IsCancellationRequested => _cts.IsCancellationRequested;

    public void Dispose()
    {
        _registration.Dispose();
        _cts.Dispose();
    }
}
