using System.Net;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery.Tests;

/// <summary>
/// The discv5 nodes the tests run: a fresh key, a free port on loopback, loopback records allowed as contacts, no
/// liveness pings. A setting left out keeps the library's default, except the request timeout and retries: 2 s and
/// two retries, so that two live nodes on two busy cores (other test classes run alongside) still answer in time.
/// Tests that count packets or let requests time out pass their own.
/// </summary>
internal static class TestNodes
{
    public static byte[] NewKey()
    {
        var key = new byte[32];
        Secp256k1Ops.GeneratePrivateKey(CryptoRandom.Instance, key);
        return key;
    }

    public static Discv5Node Create(
        IEnumerable<Enr>? bootnodes = null, TimeSpan? requestTimeout = null, int retries = 2, byte[]? privateKey = null,
        TimeProvider? time = null, int port = 0, TimeSpan? challengeTimeout = null, int? whoAreYouPerSecond = null,
        int? maxPendingChallenges = null, int? unsolicitedPerSecond = null, bool rateLimitLoopback = false,
        int? maxPendingRequests = null, int? maxSessions = null, IPAddress? advertisedIp = null, int? advertisedUdpPort = null,
        TimeSpan? timeoutDeferral = null, int handlerShards = 0, bool portableReceive = false, TimeSpan? receiveCoalescing = null,
        int? maxGivenUpNonces = null, int? maxQueuedPackets = null, IDatagramSender? sender = null, int? maxRetriesAfterDrops = null,
        TimeSpan? lateAnswerGrace = null)
    {
        var key = privateKey ?? NewKey();
        var library = new Discv5Options { PrivateKey = key };
        return new Discv5Node(new Discv5Options
        {
            PrivateKey = key,
            BindEndPoint = new IPEndPoint(IPAddress.Loopback, port),
            AdvertisedIp = advertisedIp,
            AdvertisedUdpPort = advertisedUdpPort,
            ContactFilter = ContactFilters.PublicOrLoopback,
            LivenessInterval = TimeSpan.Zero,
            Bootnodes = bootnodes?.ToArray() ?? [],
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(2),
            RequestRetries = retries,
            ChallengeTimeout = challengeTimeout ?? library.ChallengeTimeout,
            MaxWhoAreYouPerIpPerSecond = whoAreYouPerSecond ?? library.MaxWhoAreYouPerIpPerSecond,
            MaxPendingChallenges = maxPendingChallenges ?? library.MaxPendingChallenges,
            MaxUnsolicitedPerIpPerSecond = unsolicitedPerSecond ?? library.MaxUnsolicitedPerIpPerSecond,
            RateLimitLoopback = rateLimitLoopback,
            MaxPendingRequests = maxPendingRequests ?? library.MaxPendingRequests,
            MaxGivenUpNonces = maxGivenUpNonces ?? library.MaxGivenUpNonces,
            MaxSessions = maxSessions ?? library.MaxSessions,
            TimeoutDeferral = timeoutDeferral ?? library.TimeoutDeferral,
            HandlerShards = handlerShards,
            PortableReceive = portableReceive,
            ReceiveCoalescing = receiveCoalescing ?? library.ReceiveCoalescing,
            MaxQueuedPacketsPerShard = maxQueuedPackets ?? library.MaxQueuedPacketsPerShard,
            MaxRetriesAfterDrops = maxRetriesAfterDrops ?? library.MaxRetriesAfterDrops,
            LateAnswerGrace = lateAnswerGrace ?? library.LateAnswerGrace,
            Sender = sender,
        }, time: time);
    }

    /// <summary>Starts <paramref name="node"/> (disposing it if it cannot start) and returns it.</summary>
    public static async Task<Discv5Node> StartedAsync(this Discv5Node node)
    {
        try
        {
            await node.StartAsync();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }
}
