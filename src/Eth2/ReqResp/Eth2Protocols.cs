using ClP2p.Eth2.Ssz;

namespace ClP2p.Eth2.ReqResp;

/// <summary>The req/resp protocols this crawler speaks, with their SSZ size bounds.</summary>
public static class Eth2Protocols
{
    public const string StatusV1 = "/eth2/beacon_chain/req/status/1/ssz_snappy";
    public const string StatusV2 = "/eth2/beacon_chain/req/status/2/ssz_snappy";
    public const string MetaDataV2 = "/eth2/beacon_chain/req/metadata/2/ssz_snappy";
    public const string MetaDataV3 = "/eth2/beacon_chain/req/metadata/3/ssz_snappy";
    public const string PingV1 = "/eth2/beacon_chain/req/ping/1/ssz_snappy";
    public const string GoodbyeV1 = "/eth2/beacon_chain/req/goodbye/1/ssz_snappy";

    /// <summary>Newest first (status/2 before /1, metadata/3 before /2): the remote accepts the first it supports through multistream-select.</summary>
    public static IReadOnlyList<string> Status { get; } = [StatusV2, StatusV1];

    public static IReadOnlyList<string> MetaData { get; } = [MetaDataV3, MetaDataV2];

    public static IReadOnlyList<string> All { get; } = [StatusV2, StatusV1, MetaDataV3, MetaDataV2, PingV1, GoodbyeV1];

    /// <summary>MAX_PAYLOAD_SIZE = 10 * 2**20 (phase0/p2p-interface.md configuration).</summary>
    public const int MaxPayloadSize = 10 * 1024 * 1024;

    /// <summary>MAX_CONCURRENT_REQUESTS = 2 per protocol id (phase0/p2p-interface.md configuration).</summary>
    public const int MaxConcurrentRequests = 2;

    /// <summary>max_compressed_len(n) = 32 + n + n / 6 (phase0/p2p-interface.md, snappy worst case).</summary>
    public static long MaxCompressedLength(long n) => 32 + n + (n / 6);

    public static int StatusVersion(string protocol) => protocol == StatusV2 ? 2 : 1;

    public static int MetaDataVersion(string protocol) => protocol == MetaDataV3 ? 3 : 2;

    /// <summary>(min, max) SSZ length of the response payload of <paramref name="protocol"/>.</summary>
    public static (int Min, int Max) ResponseBounds(string protocol) => protocol switch
    {
        StatusV1 => (StatusMessage.V1Length, StatusMessage.V1Length),
        StatusV2 => (StatusMessage.V2Length, StatusMessage.V2Length),
        MetaDataV2 => (MetaDataMessage.V2Length, MetaDataMessage.V2Length),
        MetaDataV3 => (MetaDataMessage.V3Length, MetaDataMessage.V3Length),
        PingV1 or GoodbyeV1 => (SszUInt64.Length, SszUInt64.Length),
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "not an eth2 protocol this crawler speaks"),
    };

    /// <summary>(min, max) SSZ length of the request payload; metadata requests have no body at all.</summary>
    public static (int Min, int Max)? RequestBounds(string protocol) => protocol switch
    {
        StatusV1 => (StatusMessage.V1Length, StatusMessage.V1Length),
        StatusV2 => (StatusMessage.V2Length, StatusMessage.V2Length),
        MetaDataV2 or MetaDataV3 => null,
        PingV1 or GoodbyeV1 => (SszUInt64.Length, SszUInt64.Length),
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "not an eth2 protocol this crawler speaks"),
    };
}
