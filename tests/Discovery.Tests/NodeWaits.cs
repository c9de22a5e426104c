namespace ClP2p.Discovery.Tests;

/// <summary>Waits on a running node's own events instead of polling its counters.</summary>
internal static class NodeWaits
{
    /// <summary>
    /// Completes once <paramref name="condition"/> holds: checked now and after every packet the node has handled and
    /// counted (what the node records for a packet, in its table, known records and counters, is in place by then).
    /// </summary>
    public static async Task UntilAsync(this Discv5Node node, Func<bool> condition)
    {
        var met = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            try
            {
                if (condition()) met.TrySetResult();
            }
            catch (Exception e)
            {
                met.TrySetException(e);
            }
        }
        node.PacketHandled += Check;
        try
        {
            Check();
            await met.Task.WaitAsync(HangGuard);
        }
        finally
        {
            node.PacketHandled -= Check;
        }
    }
}
