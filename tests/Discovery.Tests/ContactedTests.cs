using System.Net;
using System.Security.Cryptography;
using ClP2p.Discovery.Service;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// A node that answered is tabled (moved to its bucket's most recently seen end); a record that answers again within a
/// second is not tabled again (a crawled node answers a dozen requests in that time), and is once the second is over.
/// </summary>
public sealed class ContactedTests
{
    private static Enr Record(int lastOctet)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        return new EnrBuilder().WithSeq(1).WithIp(IPAddress.Parse($"198.51.100.{lastOctet}")).WithUdp(9000).Build(key);
    }

    [Fact]
    public void A_record_that_answers_again_within_a_second_keeps_its_place_and_moves_after_it()
    {
        var a = Record(1);
        Enr b;
        do b = Record(2); while ((a.NodeId.ToByteArray()[0] & 0x80) != (b.NodeId.ToByteArray()[0] & 0x80));
        // the local id differs from both in the first bit: both in the bucket at distance 256
        var local = a.NodeId.ToByteArray();
        local[0] ^= 0x80;
        var time = new FakeTimeProvider();
        var service = new NodeService(new NodeId(local), new Discv5Options { PrivateKey = new byte[32], ContactFilter = _ => true }, time, NullLogger.Instance);

        service.Contacted(a);
        service.Contacted(b);
        Assert.Equal([a, b], service.TableNodes());

        // a again, within the second: it stays where it was
        time.Advance(TimeSpan.FromMilliseconds(900));
        service.Contacted(a);
        Assert.Equal([a, b], service.TableNodes());

        // once its second is over, it moves to the most recently seen end
        time.Advance(TimeSpan.FromMilliseconds(200));
        service.Contacted(a);
        Assert.Equal([b, a], service.TableNodes());
    }
}
