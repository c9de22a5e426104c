using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ClP2p.Storage;

/// <summary>
/// Encodes rows in PostgreSQL's binary COPY format (the "Binary Format" section of the COPY reference page) into one
/// growing buffer, for <c>COPY ... FROM STDIN (FORMAT BINARY)</c> through Npgsql's raw copy stream.
/// <para>
/// Layout: an 11-byte signature <c>PGCOPY\n\377\r\n\0</c>, a 32-bit flags field (0) and a 32-bit header extension
/// length (0); then per row a 16-bit field count followed by each field as a 32-bit length (−1 for NULL) and the value
/// in the type's binary send format; then a 16-bit −1 trailer. All integers are big-endian.
/// </para>
/// Npgsql's typed <c>NpgsqlBinaryImporter.Write</c> resolves the type of every value on every call; writing the bytes
/// here costs a fraction of that, which is client CPU given back to the database server on a small machine.
/// The buffer is rented from the shared array pool (a batch's chunk buffer would otherwise be a new large-object-heap
/// array per batch); dispose to return it.
/// </summary>
internal sealed class PgBinaryCopyWriter : IDisposable
{
    /// <summary>The COPY binary signature.</summary>
    internal static ReadOnlySpan<byte> Signature => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xff, (byte)'\r', (byte)'\n', 0];

    /// <summary>PostgreSQL's epoch for timestamps: 2000-01-01T00:00:00Z, in .NET ticks.</summary>
    private const long PostgresEpochTicks = 630_822_816_000_000_000L;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private byte[] _buffer;
    private int _length;

    /// <summary>Creates a writer with room for at least <paramref name="initialCapacity"/> bytes (it grows as needed).</summary>
    public PgBinaryCopyWriter(int initialCapacity = 64 * 1024)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(64, initialCapacity));
    }

    /// <summary>Returns the buffer to the pool; the writer is not used after.</summary>
    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>The bytes encoded since the last <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Number of bytes encoded since the last <see cref="Clear"/>.</summary>
    public int Length => _length;

    /// <summary>Forgets the encoded bytes (after they were sent), keeping the buffer.</summary>
    public void Clear() => _length = 0;

    /// <summary>Signature, flags (no OIDs) and an empty header extension: once, before the first row.</summary>
    public void WriteHeader()
    {
        Signature.CopyTo(Reserve(Signature.Length));
        BinaryPrimitives.WriteInt32BigEndian(Reserve(4), 0);
        BinaryPrimitives.WriteInt32BigEndian(Reserve(4), 0);
    }

    /// <summary>The file trailer (a field count of −1): once, after the last row.</summary>
    public void WriteTrailer() => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), -1);

    /// <summary>Starts a row of <paramref name="fields"/> fields.</summary>
    public void StartRow(short fields) => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), fields);

    /// <summary>A NULL field.</summary>
    public void Null() => BinaryPrimitives.WriteInt32BigEndian(Reserve(4), -1);

    /// <summary>A <c>bigint</c> field.</summary>
    public void Int64(long value)
    {
        Span<byte> s = Reserve(12);
        BinaryPrimitives.WriteInt32BigEndian(s, 8);
        BinaryPrimitives.WriteInt64BigEndian(s[4..], value);
    }

    /// <summary>A <c>bigint</c> field, or NULL.</summary>
    public void Int64(long? value)
    {
        if (value is { } v) Int64(v);
        else Null();
    }

    /// <summary>A <c>bigint</c> field holding the bits of a uint64 (2^64−1 reads as −1), or NULL.</summary>
    public void UInt64AsInt64(ulong? value)
    {
        if (value is { } v) Int64(unchecked((long)v));
        else Null();
    }

    /// <summary>An <c>integer</c> field, or NULL.</summary>
    public void Int32(int? value)
    {
        if (value is not { } v)
        {
            Null();
            return;
        }
        Span<byte> s = Reserve(8);
        BinaryPrimitives.WriteInt32BigEndian(s, 4);
        BinaryPrimitives.WriteInt32BigEndian(s[4..], v);
    }

    /// <summary>A <c>boolean</c> field, or NULL.</summary>
    public void Bool(bool? value)
    {
        if (value is not { } v)
        {
            Null();
            return;
        }
        Span<byte> s = Reserve(5);
        BinaryPrimitives.WriteInt32BigEndian(s, 1);
        s[4] = v ? (byte)1 : (byte)0;
    }

    /// <summary>A <c>timestamptz</c> field: microseconds since 2000-01-01 UTC (sub-microsecond ticks are dropped).</summary>
    public void TimestampTz(DateTimeOffset value)
    {
        long micros = (value.UtcTicks - PostgresEpochTicks) / 10;
        Span<byte> s = Reserve(12);
        BinaryPrimitives.WriteInt32BigEndian(s, 8);
        BinaryPrimitives.WriteInt64BigEndian(s[4..], micros);
    }

    /// <summary>A <c>bytea</c> field, or NULL.</summary>
    public void Bytea(byte[]? value)
    {
        if (value is null)
        {
            Null();
            return;
        }
        Span<byte> s = Reserve(4 + value.Length);
        BinaryPrimitives.WriteInt32BigEndian(s, value.Length);
        value.CopyTo(s[4..]);
    }

    /// <summary>
    /// A <c>text</c> field in UTF-8, or NULL. Unpaired surrogates become U+FFFD. The caller keeps NUL characters out
    /// (PostgreSQL text cannot hold them): <see cref="ResultWriter"/> replaces them when an observation is added.
    /// </summary>
    public void Text(string? value)
    {
        if (value is null)
        {
            Null();
            return;
        }
        int max = Utf8.GetMaxByteCount(value.Length);
        Span<byte> s = Reserve(4 + max);
        int n = Utf8.GetBytes(value, s[4..]);
        BinaryPrimitives.WriteInt32BigEndian(s, n);
        _length -= max - n;
    }

    /// <summary>A <c>text</c> field holding the lowercase hex of <paramref name="value"/> ("6a95a1a9"), or NULL.</summary>
    public void HexText(byte[]? value)
    {
        if (value is null)
        {
            Null();
            return;
        }
        Span<byte> s = Reserve(4 + 2 * value.Length);
        BinaryPrimitives.WriteInt32BigEndian(s, 2 * value.Length);
        Span<byte> hex = s[4..];
        for (int i = 0; i < value.Length; i++)
        {
            hex[2 * i] = HexDigit(value[i] >> 4);
            hex[2 * i + 1] = HexDigit(value[i] & 0xf);
        }
    }

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _length < count)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + count));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        Span<byte> s = _buffer.AsSpan(_length, count);
        _length += count;
        return s;
    }
}
