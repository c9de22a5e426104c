namespace ClP2p.Libp2p.Transport;

/// <summary>
/// A level-free wake-up signal: take <see cref="WaitTask"/>, re-check the condition, then await it; <see cref="Set"/>
/// wakes every waiter that took the task before the call.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task WaitTask => Volatile.Read(ref _tcs).Task;

    public void Set()
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _tcs, next).TrySetResult();
    }
}
