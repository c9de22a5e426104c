using System.Net;
using ClP2p.Discovery.Crypto;

namespace ClP2p.Discovery;

/// <summary>Settings of a <see cref="Discv5Node"/>.</summary>
public sealed class Discv5Options
{
    /// <summary>The node's 32-byte secp256k1 private key (its identity).</summary>
    public required byte[] PrivateKey { get; init; }

    /// <summary>Where the UDP socket binds; port 0 picks a free port.</summary>
    public IPEndPoint BindEndPoint { get; init; } = new(IPAddress.Any, 9000);

    /// <summary>IP put in the local ENR. Default: the bind address unless it is a wildcard (then no ip entry).</summary>
    public IPAddress? AdvertisedIp { get; init; }

    /// <summary>UDP port put in the local ENR. Default: the bound port.</summary>
    public int? AdvertisedUdpPort { get; init; }

    /// <summary>TCP port put in the local ENR ("tcp", and "tcp6" beside an ip6) for a libp2p listener; null: none.</summary>
    public int? AdvertisedTcpPort { get; init; }

    /// <summary>
    /// Distinct peers whose PONGs must name the same endpoint before the node puts it in its record (per address family;
    /// see <c>Service.AddressVotes</c>). A family whose address is given by <see cref="AdvertisedIp"/> is never voted on.
    /// Zero disables voting.
    /// </summary>
    public int AddressVotesNeeded { get; init; } = 3;

    /// <summary>Which observed addresses the votes may adopt. Default: public unicast only.</summary>
    public Func<IPAddress, bool> AcceptObservedAddress { get; init; } = IpClass.IsPublic;

    /// <summary>
    /// Called when a remote contacts us: an inbound handshake (it opened the session) or a request (PING, FINDNODE,
    /// TALKREQ) it sent, at most once per session per <see cref="InboundReportInterval"/>. Runs on a handler shard: it
    /// must return at once (queue the contact, do not wait).
    /// </summary>
    public Action<InboundContact>? InboundContact { get; init; }

    /// <summary>How often the same session is reported to <see cref="InboundContact"/> at most.</summary>
    public TimeSpan InboundReportInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Extra ENR entries (key → byte-string value), e.g. "eth2", "attnets", "tcp" (as big-endian bytes).</summary>
    public IReadOnlyDictionary<string, byte[]> ExtraEnrEntries { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>Sequence number of the first local record.</summary>
    public ulong EnrSeq { get; init; } = 1;

    /// <summary>Nodes pinged at start to join the DHT; also the starting points of lookups while the table is empty.</summary>
    public IReadOnlyList<Enr> Bootnodes { get; init; } = [];

    /// <summary>Time to wait for a response (each attempt). discv5-theory suggests 500 ms; geth uses 700 ms.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Extra attempts after a timeout (same request id, new packet).</summary>
    public int RequestRetries { get; init; } = 1;

    /// <summary>
    /// How long a timed-out FINDNODE or PING stays answerable. Its caller gets <see cref="RequestFailure.Timeout"/> at
    /// once; an answer that comes within this window is kept, and the next identical request to the node (same
    /// type, same distances) takes it up: it completes at once with the late answer, or keeps waiting under the old
    /// request id, so an answer to either attempt counts. Zero: a timed-out request is forgotten.
    /// </summary>
    public TimeSpan LateAnswerGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A request's timeout is put off while datagrams that may hold its answer wait unread in the socket, by this much
    /// at a time, at most <see cref="MaxTimeoutDeferral"/> in all: a process that was stalled (a GC pause, a busy
    /// machine) must not give up requests whose answers came in time and were not read yet.
    /// </summary>
    public TimeSpan TimeoutDeferral { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The most a request's timeout is put off in all (see <see cref="TimeoutDeferral"/>). Zero: never.</summary>
    public TimeSpan MaxTimeoutDeferral { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Handler shards: packet crypto, sessions and requests split by remote endpoint, each shard on its own loop.
    /// 0 = one per two processors, at least one (see <c>Discv5Node.DefaultHandlerShards</c>). Capped by
    /// <see cref="MaxSessions"/> (each shard holds its share of sessions).
    /// </summary>
    public int HandlerShards { get; init; }

    /// <summary>Received packets queued per shard before new ones are dropped (counted as handler-overloaded).</summary>
    public int MaxQueuedPacketsPerShard { get; init; } = 8_192;

    /// <summary>
    /// Attempts of one request that are not counted because the handler dropped a datagram of the request's node over
    /// <see cref="MaxQueuedPacketsPerShard"/> while the attempt waited: the answer may have been among them, and a node
    /// must not be given up for our own backlog. Each such attempt is retried at its timeout, up to this many per
    /// request. Zero: a dropped answer costs its attempt like a lost one.
    /// </summary>
    public int MaxRetriesAfterDrops { get; init; } = 3;

    /// <summary>Distinct records whose signature check is remembered (a record is verified once while it stays here).</summary>
    public int MaxVerifiedRecords { get; init; } = 200_000;

    /// <summary>How long a WHOAREYOU we sent stays valid (geth handshakeTimeout: 1 s).</summary>
    public TimeSpan ChallengeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// UDP receive buffer (SO_RCVBUF; SO_RCVBUFFORCE when privileged, else capped at net.core.rmem_max). Hundreds of
    /// FINDNODEs in flight overflow the default, and a crawl's answers keep arriving while the process is paused (a
    /// collection): with 8 MB (16 MB as Linux counts it) the kernel dropped 427–19,812 datagrams in nine of fourteen
    /// crawls of the 20,000-record simulator, with 32 MB none in twenty-eight (docs/performance.md, "Datagrams the kernel
    /// dropped"). Memory is taken only while datagrams wait.
    /// </summary>
    public int ReceiveBufferSize { get; init; } = 32 * 1024 * 1024;
    public int SendBufferSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Bounded memory under floods.</summary>
    public int MaxSessions { get; init; } = 20_000;
    public int MaxPendingChallenges { get; init; } = 4_096;
    public int MaxPendingRequests { get; init; } = 8_192;

    /// <summary>
    /// Nonces of timed-out first contacts (and of timed-out requests' packets under the session still in use) kept for a
    /// late WHOAREYOU (for <see cref="LateAnswerGrace"/>), the oldest dropped first when full. A crawl gives up on thousands of first contacts within seconds, nearly all records of
    /// nodes that are gone, and a slow node's challenge arrives among them: bounded by <see cref="MaxPendingRequests"/>
    /// and refusing new nonces once full, the table was full of the gone nodes' nonces just when the slow ones' challenges
    /// came, and those nodes were lost to the crawl (their next pass drew the same challenge again).
    /// </summary>
    public int MaxGivenUpNonces { get; init; } = 65_536;
    public int MaxKnownRecords { get; init; } = 50_000;

    /// <summary>WHOAREYOU packets sent per source IP per second (discv5-rationale.md "On Amplification and Replay": a WHOAREYOU
    /// answers any packet from anyone, so without a limit the node amplifies spoofed traffic).</summary>
    public int MaxWhoAreYouPerIpPerSecond { get; init; } = 100;

    /// <summary>
    /// Unsolicited packets handled per source IP (IPv6: per /64, which one host may hold whole) per second: handshakes
    /// answering our WHOAREYOU (record and id-signature checks, ECDH: the dearest packet a stranger can make us handle)
    /// and requests (PING, FINDNODE, TALKREQ: we build, encrypt and send the answer). Responses to our own requests
    /// never count, so a crawl is never limited by its own traffic however many nodes share an address. Over it, the
    /// packet is dropped as <see cref="DropReason.UnsolicitedRateLimited"/>. The default is a hundred times
    /// Lighthouse's (9 per IP per second, a node protecting itself) because a census wants every node behind one
    /// address counted, and a real node sends us a few such packets a second at most. <see cref="int.MaxValue"/>: no limit.
    /// </summary>
    public int MaxUnsolicitedPerIpPerSecond { get; init; } = 1_000;

    /// <summary>Whether <see cref="MaxUnsolicitedPerIpPerSecond"/> applies to loopback sources. Default false: every
    /// node of a loopback testnet or simulation shares 127.0.0.0/8, and a loopback sender is this machine.</summary>
    public bool RateLimitLoopback { get; init; }

    /// <summary>Which records the node itself may contact in lookups and put in its table. Default: public unicast only.</summary>
    public Func<Enr, bool> ContactFilter { get; init; } = ContactFilters.PublicOnly;

    /// <summary>Period of the table liveness check (ping the least recently seen node of a random bucket). Zero disables.</summary>
    public TimeSpan LivenessInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Sends each outgoing datagram instead of a direct send on the socket (a network simulator delays or drops
    /// packets here); null sends at once.</summary>
    public IDatagramSender? Sender { get; init; }

    /// <summary>
    /// Receive with the portable loop (one awaited receive per datagram on the runtime's socket engine) even where the
    /// batching one runs (64-bit Linux: a thread of its own per loop, blocked in recvmmsg). A process hosting thousands
    /// of nodes wants this: the batching loop costs each node a thread, and ten thousand threads woken one datagram at a
    /// time load the machine (the network simulator, bench/Sim, sets it). The environment variable
    /// CLP2P_DISCV5_PORTABLE_RECEIVE=1 does the same for a whole process.
    /// </summary>
    public bool PortableReceive { get; init; }

    /// <summary>
    /// After a receive that emptied the socket, the batching receive loop (64-bit Linux) waits this long before it reads
    /// again, so that what arrives meanwhile is read by one system call and handled in one go: one thread wake-up, and
    /// one hand-off of the answers' continuations, for many datagrams instead of for each (what network cards call
    /// interrupt moderation). Each datagram may wait this much longer; a busy socket, which fills a whole batch, is read
    /// without waiting. Timeouts are not hurt: a request whose answer waits in the socket is put off
    /// (<see cref="TimeoutDeferral"/>). Zero (the default): read again at once. A crawler, which receives thousands of
    /// datagrams a second with round trips of 50-300 ms, wants a few milliseconds (docs/performance.md, "Receive
    /// coalescing"). CLP2P_DISCV5_RECEIVE_COALESCING_US in the environment overrides it for a whole process.
    /// </summary>
    public TimeSpan ReceiveCoalescing { get; init; }

    /// <summary>Randomness for nonces, masking IVs, id-nonces, ephemeral keys and request ids. Called from several
    /// handler shards at once: it must be thread-safe.</summary>
    public IDiscoveryRandom Random { get; init; } = CryptoRandom.Instance;
}

/// <summary>A remote that contacted us: its node id, its record when we have it, and the endpoint its packet came from.</summary>
public sealed record InboundContact(NodeId NodeId, Enr? Record, IPEndPoint From, bool Handshake);

/// <summary>Sends a datagram on a node's socket, now or later (it must copy the bytes it keeps).</summary>
public interface IDatagramSender
{
    void Send(System.Net.Sockets.Socket socket, ReadOnlySpan<byte> datagram, IPEndPoint to);
}
