using ClP2p.Discovery.Service;
using ClP2p.Discovery.Sessions;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// Which nodes answered us: a message over a session records its node once and the session remembers it; when the
/// bounded set is cleared, a session's next message records its node again instead of trusting the stale mark.
/// </summary>
public sealed class RespondedTests
{
    private static NodeId Id(int i)
    {
        var b = new byte[32];
        b[0] = (byte)i;
        b[31] = 1;
        return new NodeId(b);
    }

    [Fact]
    public void A_session_records_its_node_once_and_again_after_the_set_was_cleared()
    {
        var service = new NodeService(Id(0), new Discv5Options { PrivateKey = new byte[32], MaxKnownRecords = 3 }, TimeProvider.System, NullLogger.Instance);
        using var session = new Session(new byte[16], new byte[16], null);
        var a = Id(1);
        Assert.False(service.HasResponded(a));
        service.Responded(a, session);
        Assert.True(service.HasResponded(a));
        service.Responded(a, session);
        Assert.True(service.HasResponded(a));

        // three more nodes fill the bound: the set is cleared, a with it
        for (int i = 2; i <= 4; i++) service.Responded(Id(i));
        Assert.False(service.HasResponded(a));
        // a's session was marked before the clear: its next message records a again
        service.Responded(a, session);
        Assert.True(service.HasResponded(a));
    }
}
