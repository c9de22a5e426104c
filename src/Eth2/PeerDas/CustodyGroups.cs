using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ClP2p.Eth2.PeerDas;

/// <summary>PeerDAS custody (fulu/das-core.md <c>get_custody_groups</c>, <c>compute_columns_for_custody_group</c>).</summary>
public static class CustodyGroups
{
    /// <summary>NUMBER_OF_CUSTODY_GROUPS (fulu/das-core.md preset).</summary>
    public const int NumberOfCustodyGroups = 128;

    /// <summary>NUMBER_OF_COLUMNS (fulu/das-core.md preset).</summary>
    public const int NumberOfColumns = 128;

    /// <summary>
    /// get_custody_groups(node_id, custody_group_count): hash uint256 ids from node_id upwards (wrapping at 2^256),
    /// take sha256(uint_to_bytes(id))[0:8] as u64 LE mod 128 until <paramref name="custodyGroupCount"/> distinct groups.
    /// </summary>
    /// <param name="nodeId">32-byte node id, big-endian (the ENR node id as usually printed).</param>
    public static int[] GetCustodyGroups(ReadOnlySpan<byte> nodeId, ulong custodyGroupCount)
    {
        if (nodeId.Length != 32) throw new ArgumentException("node id must be 32 bytes", nameof(nodeId));
        if (custodyGroupCount > NumberOfCustodyGroups) throw new ArgumentOutOfRangeException(nameof(custodyGroupCount));
        if (custodyGroupCount == NumberOfCustodyGroups) return Enumerable.Range(0, NumberOfCustodyGroups).ToArray();

        Span<byte> current = stackalloc byte[32]; // little-endian uint256, as uint_to_bytes writes it
        for (int i = 0; i < 32; i++) current[i] = nodeId[31 - i];
        Span<byte> hash = stackalloc byte[32];
        var groups = new SortedSet<int>();
        while ((ulong)groups.Count < custodyGroupCount)
        {
            SHA256.HashData(current, hash);
            groups.Add((int)(BinaryPrimitives.ReadUInt64LittleEndian(hash) % NumberOfCustodyGroups));
            for (int i = 0; i < 32 && ++current[i] == 0; i++) { } // += 1, wrapping at 2^256 - 1
        }
        return groups.ToArray();
    }

    /// <summary>compute_columns_for_custody_group(group).</summary>
    public static int[] ComputeColumnsForCustodyGroup(int custodyGroup)
    {
        if (custodyGroup is < 0 or >= NumberOfCustodyGroups) throw new ArgumentOutOfRangeException(nameof(custodyGroup));
        const int columnsPerGroup = NumberOfColumns / NumberOfCustodyGroups;
        var cols = new int[columnsPerGroup];
        for (int i = 0; i < columnsPerGroup; i++) cols[i] = NumberOfCustodyGroups * i + custodyGroup;
        return cols;
    }
}
