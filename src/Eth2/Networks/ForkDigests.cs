using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ClP2p.Eth2.Networks;

/// <summary>Blob parameters of one BLOB_SCHEDULE entry (fulu/beacon-chain.md <c>BlobParameters</c>).</summary>
public readonly record struct BlobParameters(ulong Epoch, ulong MaxBlobsPerBlock);

/// <summary>
/// <c>compute_fork_data_root</c> and <c>compute_fork_digest</c> (phase0/beacon-chain.md, fulu/beacon-chain.md, EIP-7892).
/// </summary>
public static class ForkDigests
{
    /// <summary>FAR_FUTURE_EPOCH = 2**64 - 1 (phase0/beacon-chain.md constants).</summary>
    public const ulong FarFutureEpoch = ulong.MaxValue;

    /// <summary>
    /// hash_tree_root(ForkData(current_version, genesis_validators_root))
    /// = sha256(version(4) || 0x00*28 || genesis_validators_root(32)).
    /// </summary>
    public static Root ComputeForkDataRoot(ForkVersion version, Root genesisValidatorsRoot)
    {
        Span<byte> input = stackalloc byte[64];
        input.Clear();
        version.WriteTo(input);
        genesisValidatorsRoot.WriteTo(input[32..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        return Root.Read(hash);
    }

    /// <summary>Phase0 rule: fork_data_root[0:4]. Used for every epoch before FULU_FORK_EPOCH.</summary>
    public static ForkDigest Compute(ForkVersion version, Root genesisValidatorsRoot)
    {
        Span<byte> root = stackalloc byte[32];
        ComputeForkDataRoot(version, genesisValidatorsRoot).WriteTo(root);
        return ForkDigest.Read(root);
    }

    /// <summary>
    /// Fulu rule (EIP-7892): xor(fork_data_root, sha256(uint64_le(bp.epoch) || uint64_le(bp.max_blobs_per_block)))[0:4].
    /// </summary>
    public static ForkDigest Compute(ForkVersion version, Root genesisValidatorsRoot, BlobParameters blobParameters)
    {
        Span<byte> root = stackalloc byte[32];
        ComputeForkDataRoot(version, genesisValidatorsRoot).WriteTo(root);
        Span<byte> bp = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bp, blobParameters.Epoch);
        BinaryPrimitives.WriteUInt64LittleEndian(bp[8..], blobParameters.MaxBlobsPerBlock);
        Span<byte> bpHash = stackalloc byte[32];
        SHA256.HashData(bp, bpHash);
        Span<byte> digest = stackalloc byte[4];
        for (int i = 0; i < 4; i++) digest[i] = (byte)(root[i] ^ bpHash[i]);
        return ForkDigest.Read(digest);
    }

    /// <summary>
    /// <c>get_blob_parameters(epoch)</c>: the BLOB_SCHEDULE entry with the largest EPOCH &lt;= epoch, else
    /// (ELECTRA_FORK_EPOCH, MAX_BLOBS_PER_BLOCK_ELECTRA).
    /// </summary>
    public static BlobParameters GetBlobParameters(IReadOnlyList<BlobParameters> schedule, ulong epoch, ulong electraForkEpoch, ulong maxBlobsPerBlockElectra)
    {
        BlobParameters? best = null;
        foreach (var entry in schedule)
            if (entry.Epoch <= epoch && (best is null || entry.Epoch > best.Value.Epoch)) best = entry;
        return best ?? new BlobParameters(electraForkEpoch, maxBlobsPerBlockElectra);
    }
}
