using System.Net;
using System.Net.Sockets;

namespace ClP2p.Libp2p.Transport;

/// <summary>
/// One TCP connect that reports its outcome as a <see cref="SocketError"/> instead of throwing: a refused or
/// unreachable node completes the operation with its error, and an abort (the connect timeout or the caller's token)
/// disposes the socket, which ends the pending connect with <see cref="SocketError.OperationAborted"/>.
/// <c>Socket.ConnectAsync(EndPoint, CancellationToken)</c> throws in both cases, once per async frame above it.
/// </summary>
internal sealed class TcpConnect : SocketAsyncEventArgs
{
    private const int Pending = 0;
    private const int Done = 1;
    private const int Aborted = 2;

    // the dial goes on where the connect completed (the socket engine's thread, or the pool for an abort), not in a
    // work item of its own
    private readonly TaskCompletionSource<SocketError> _done = new();
    private readonly Socket _socket;
    private int _state;

    private TcpConnect(Socket socket, IPEndPoint endpoint)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _socket = socket;
        RemoteEndPoint = endpoint;
    }

    /// <summary>
    /// Connects <paramref name="socket"/> to <paramref name="endpoint"/>. Returns the socket error (Success when
    /// connected) and whether <paramref name="abort"/> ended it; an aborted connect has disposed the socket, whatever
    /// its error says.
    /// </summary>
    public static async Task<(SocketError Error, bool Aborted)> ConnectAsync(Socket socket, IPEndPoint endpoint, CancellationToken abort)
    {
        using var op = new TcpConnect(socket, endpoint);
        if (!socket.ConnectAsync(op))
        {
            return (op.SocketError, false); // completed at once (loopback refusals often do)
        }
        SocketError error;
        using (abort.UnsafeRegister(static s => ((TcpConnect)s!).Abort(), op))
        {
            error = await op._done.Task.ConfigureAwait(false);
        }
        return (error, Volatile.Read(ref op._state) == Aborted);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        Interlocked.CompareExchange(ref _state, Done, Pending);
        _done.TrySetResult(SocketError);
    }

    private void Abort()
    {
        if (Interlocked.CompareExchange(ref _state, Aborted, Pending) == Pending)
        {
            _socket.Dispose();
        }
    }
}
