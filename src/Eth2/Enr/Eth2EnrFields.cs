using System.Buffers.Binary;
using System.Numerics;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Enr;

/// <summary>SSZ <c>ENRForkID</c>, the ENR <c>eth2</c> value (phase0/p2p-interface.md "eth2 field"): 16 bytes.</summary>
public readonly record struct EnrForkId(ForkDigest ForkDigest, ForkVersion NextForkVersion, ulong NextForkEpoch)
{
    /// <summary>fork_digest(4) || next_fork_version(4) || next_fork_epoch(uint64 LE).</summary>
    public const int Length = 16;

    public bool HasNextFork => NextForkEpoch != ForkDigests.FarFutureEpoch;

    public void WriteTo(Span<byte> destination)
    {
        ForkDigest.WriteTo(destination);
        NextForkVersion.WriteTo(destination[4..]);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], NextForkEpoch);
    }

    public byte[] ToArray()
    {
        var b = new byte[Length];
        WriteTo(b);
        return b;
    }
}

/// <summary>SSZ <c>Bitvector[64]</c> of attestation subnets (ENR <c>attnets</c>, MetaData): subnet i = bit i%8 of byte i/8.</summary>
public readonly record struct AttestationSubnets(ulong Bits)
{
    public const int Length = 8;
    public const int Count = 64; // ATTESTATION_SUBNET_COUNT

    public static AttestationSubnets Read(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt64LittleEndian(bytes));

    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt64LittleEndian(destination, Bits);

    public bool IsSet(int subnet) => subnet is >= 0 and < Count && ((Bits >> subnet) & 1) != 0;

    public int PopCount => BitOperations.PopCount(Bits);

    public IEnumerable<int> Subnets
    {
        get
        {
            for (int i = 0; i < Count; i++)
                if (((Bits >> i) & 1) != 0) yield return i;
        }
    }

    public static AttestationSubnets FromSubnets(IEnumerable<int> subnets)
    {
        ulong bits = 0;
        foreach (var s in subnets)
        {
            if (s is < 0 or >= Count) throw new ArgumentOutOfRangeException(nameof(subnets));
            bits |= 1UL << s;
        }
        return new AttestationSubnets(bits);
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[Length];
        WriteTo(b);
        return Convert.ToHexStringLower(b);
    }
}

/// <summary>SSZ <c>Bitvector[4]</c> of sync committee subnets (ENR <c>syncnets</c>, MetaData v2+); high 4 bits are zero.</summary>
public readonly record struct SyncCommitteeSubnets(byte Bits)
{
    public const int Count = 4; // SYNC_COMMITTEE_SUBNET_COUNT

    public bool IsSet(int subnet) => subnet is >= 0 and < Count && ((Bits >> subnet) & 1) != 0;

    public IEnumerable<int> Subnets
    {
        get
        {
            for (int i = 0; i < Count; i++)
                if (((Bits >> i) & 1) != 0) yield return i;
        }
    }

    public static bool TryRead(byte value, out SyncCommitteeSubnets subnets)
    {
        subnets = new SyncCommitteeSubnets(value);
        return (value & 0xF0) == 0;
    }

    public override string ToString() => Bits.ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
}

public enum EnrFieldError
{
    None,
    WrongLength,
    NonZeroPadding,
    NotMinimal,
    Overflow,
}

/// <summary>
/// Decoders for the consensus-layer ENR entries, from the raw value bytes (the RLP string content) so that this
/// project does not depend on the ENR library: <c>eth2</c>, <c>attnets</c>, <c>syncnets</c>, <c>cgc</c>, <c>nfd</c>.
/// </summary>
public static class Eth2EnrFields
{
    public const string Eth2Key = "eth2";
    public const string AttnetsKey = "attnets";
    public const string SyncnetsKey = "syncnets";
    public const string CustodyGroupCountKey = "cgc";
    public const string NextForkDigestKey = "nfd";

    /// <summary>NUMBER_OF_CUSTODY_GROUPS (fulu/das-core.md): a valid cgc is at most this.</summary>
    public const ulong NumberOfCustodyGroups = 128;

    public static bool TryParseEth2(ReadOnlySpan<byte> value, out EnrForkId forkId, out EnrFieldError error)
    {
        forkId = default;
        if (value.Length != EnrForkId.Length) { error = EnrFieldError.WrongLength; return false; }
        forkId = new EnrForkId(
            ForkDigest.Read(value),
            ForkVersion.Read(value[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(value[8..]));
        error = EnrFieldError.None;
        return true;
    }

    public static bool TryParseAttnets(ReadOnlySpan<byte> value, out AttestationSubnets subnets, out EnrFieldError error)
    {
        subnets = default;
        if (value.Length != AttestationSubnets.Length) { error = EnrFieldError.WrongLength; return false; }
        subnets = AttestationSubnets.Read(value);
        error = EnrFieldError.None;
        return true;
    }

    public static bool TryParseSyncnets(ReadOnlySpan<byte> value, out SyncCommitteeSubnets subnets, out EnrFieldError error)
    {
        subnets = default;
        if (value.Length != 1) { error = EnrFieldError.WrongLength; return false; }
        if (!SyncCommitteeSubnets.TryRead(value[0], out subnets)) { error = EnrFieldError.NonZeroPadding; return false; }
        error = EnrFieldError.None;
        return true;
    }

    /// <summary>
    /// <c>cgc</c> (fulu/p2p-interface.md "Custody group count"): uint64 big-endian with no leading zero bytes; 0 is the
    /// empty string. A single 0x00 byte also reads as 0: Nimbus writes 0 that way, and it is not a malformed value.
    /// A count above <see cref="NumberOfCustodyGroups"/> decodes (see <see cref="IsCustodyGroupCountInRange"/>).
    /// </summary>
    public static bool TryParseCustodyGroupCount(ReadOnlySpan<byte> value, out ulong count, out EnrFieldError error)
    {
        count = 0;
        if (value.Length > 8) { error = EnrFieldError.Overflow; return false; }
        if (value.Length == 1 && value[0] == 0) { error = EnrFieldError.None; return true; }
        if (value.Length > 0 && value[0] == 0) { error = EnrFieldError.NotMinimal; return false; }
        foreach (var b in value) count = (count << 8) | b;
        error = EnrFieldError.None;
        return true;
    }

    /// <summary>A cgc a node can truly have: at most NUMBER_OF_CUSTODY_GROUPS (fulu/das-core.md "Configuration").</summary>
    public static bool IsCustodyGroupCountInRange(ulong count) => count <= NumberOfCustodyGroups;

    public static byte[] EncodeCustodyGroupCount(ulong count)
    {
        int len = count == 0 ? 0 : (64 - BitOperations.LeadingZeroCount(count) + 7) / 8;
        var b = new byte[len];
        for (int i = len - 1; i >= 0; i--, count >>= 8) b[i] = (byte)count;
        return b;
    }

    public static bool TryParseNextForkDigest(ReadOnlySpan<byte> value, out ForkDigest digest, out EnrFieldError error)
    {
        digest = default;
        if (value.Length != ForkDigest.Length) { error = EnrFieldError.WrongLength; return false; }
        digest = ForkDigest.Read(value);
        error = EnrFieldError.None;
        return true;
    }
}

/// <summary>Looks up the raw value (RLP string content) of an ENR key; false when the record has no such key.</summary>
public delegate bool EnrValueLookup(string key, out ReadOnlyMemory<byte> value);

/// <summary>All consensus-layer fields of one ENR, each null when absent or malformed (with the reason kept).</summary>
public sealed record Eth2EnrInfo(
    EnrForkId? Eth2,
    AttestationSubnets? Attnets,
    SyncCommitteeSubnets? Syncnets,
    ulong? CustodyGroupCount,
    ForkDigest? NextForkDigest,
    IReadOnlyDictionary<string, EnrFieldError> Errors)
{
    /// <summary>
    /// Reads the fields from a key → raw value lookup (ENR values are RLP strings; pass their content). The lookup says
    /// whether the key is present: a <c>Func&lt;string, ReadOnlyMemory&lt;byte&gt;?&gt;</c> written as
    /// <c>found ? bytes : null</c> turned an absent key into an empty value (through the byte[] conversion), which read
    /// as cgc 0 and a malformed nfd on every record without them.
    /// </summary>
    public static Eth2EnrInfo From(EnrValueLookup tryGetValue)
    {
        ArgumentNullException.ThrowIfNull(tryGetValue);
        ReadOnlyMemory<byte>? rawValue(string key) => tryGetValue(key, out var v) ? new ReadOnlyMemory<byte>?(v) : null;
        var errors = new Dictionary<string, EnrFieldError>(StringComparer.Ordinal);
        EnrForkId? eth2 = null;
        AttestationSubnets? att = null;
        SyncCommitteeSubnets? sync = null;
        ulong? cgc = null;
        ForkDigest? nfd = null;
        if (rawValue(Eth2EnrFields.Eth2Key) is { } e)
        {
            if (Eth2EnrFields.TryParseEth2(e.Span, out var v, out var err)) eth2 = v; else errors[Eth2EnrFields.Eth2Key] = err;
        }
        if (rawValue(Eth2EnrFields.AttnetsKey) is { } a)
        {
            if (Eth2EnrFields.TryParseAttnets(a.Span, out var v, out var err)) att = v; else errors[Eth2EnrFields.AttnetsKey] = err;
        }
        if (rawValue(Eth2EnrFields.SyncnetsKey) is { } s)
        {
            if (Eth2EnrFields.TryParseSyncnets(s.Span, out var v, out var err)) sync = v; else errors[Eth2EnrFields.SyncnetsKey] = err;
        }
        if (rawValue(Eth2EnrFields.CustodyGroupCountKey) is { } c)
        {
            if (Eth2EnrFields.TryParseCustodyGroupCount(c.Span, out var v, out var err)) cgc = v; else errors[Eth2EnrFields.CustodyGroupCountKey] = err;
        }
        if (rawValue(Eth2EnrFields.NextForkDigestKey) is { } n)
        {
            if (Eth2EnrFields.TryParseNextForkDigest(n.Span, out var v, out var err)) nfd = v; else errors[Eth2EnrFields.NextForkDigestKey] = err;
        }
        return new Eth2EnrInfo(eth2, att, sync, cgc, nfd, errors);
    }
}
