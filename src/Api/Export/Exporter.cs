using System.Globalization;
using System.Text;
using System.Text.Json;
using ClP2p.Storage;
using CsvHelper;
using Parquet;
using Parquet.Schema;

namespace ClP2p.Api.Export;

/// <summary>Dataset export formats.</summary>
public enum ExportFormat
{
    Csv,
    Ndjson,
    Parquet,
}

public static class ExportFormats
{
    public static bool TryParse(string? text, out ExportFormat format)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "csv": format = ExportFormat.Csv; return true;
            case "ndjson" or "jsonl": format = ExportFormat.Ndjson; return true;
            case "parquet": format = ExportFormat.Parquet; return true;
            default: format = default; return false;
        }
    }

    public static string ContentType(ExportFormat format) => format switch
    {
        ExportFormat.Csv => "text/csv; charset=utf-8",
        ExportFormat.Ndjson => "application/x-ndjson",
        _ => "application/vnd.apache.parquet",
    };

    public static string Extension(ExportFormat format) => format switch
    {
        ExportFormat.Csv => "csv",
        ExportFormat.Ndjson => "ndjson",
        _ => "parquet",
    };
}

/// <summary>
/// Writes one row per node seen in a crawl (<see cref="ExportRow"/>, columns in <see cref="ExportRow.ColumnNames"/>
/// order) as CSV, NDJSON or Parquet, streaming from the database to <c>output</c>: CSV and NDJSON row by row, Parquet in
/// row groups of <see cref="ParquetRowGroupSize"/> rows. Absent values are empty (CSV) or null; hex is lowercase.
/// </summary>
public static class Exporter
{
    public const int ParquetRowGroupSize = 10_000;

    private static readonly ReadOnlyMemory<byte> NewLine = "\n"u8.ToArray();

    public static Task WriteAsync(CensusService census, long crawlId, ExportFormat format, Stream output, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(census);
        return WriteAsync(census.ExportAsync(crawlId, ct), format, output, ct);
    }

    public static Task WriteAsync(IAsyncEnumerable<ExportRow> rows, ExportFormat format, Stream output, CancellationToken ct) => format switch
    {
        ExportFormat.Csv => WriteCsvAsync(rows, output, ct),
        ExportFormat.Ndjson => WriteNdjsonAsync(rows, output, ct),
        ExportFormat.Parquet => WriteParquetAsync(rows, output, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static string Text(object? v) => v switch
    {
        null => "",
        string s => s,
        DateTimeOffset t => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static async Task WriteCsvAsync(IAsyncEnumerable<ExportRow> rows, Stream output, CancellationToken ct)
    {
        await using var writer = new StreamWriter(output, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        await using var csv = new CsvWriter(writer, CultureInfo.InvariantCulture, leaveOpen: true);
        foreach (var name in ExportRow.ColumnNames) csv.WriteField(name);
        await csv.NextRecordAsync().ConfigureAwait(false);
        await foreach (var row in rows.WithCancellation(ct).ConfigureAwait(false))
        {
            foreach (var v in row.Values()) csv.WriteField(Text(v));
            await csv.NextRecordAsync().ConfigureAwait(false);
        }
        await csv.FlushAsync().ConfigureAwait(false);
    }

    private static async Task WriteNdjsonAsync(IAsyncEnumerable<ExportRow> rows, Stream output, CancellationToken ct)
    {
        var names = ExportRow.ColumnNames.Select(n => JsonEncodedText.Encode(n)).ToArray();
        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        await foreach (var row in rows.WithCancellation(ct).ConfigureAwait(false))
        {
            json.WriteStartObject();
            var values = row.Values();
            for (int i = 0; i < values.Length; i++)
            {
                switch (values[i])
                {
                    case null: json.WriteNull(names[i]); break;
                    case string s: json.WriteString(names[i], s); break;
                    case bool b: json.WriteBoolean(names[i], b); break;
                    case int n: json.WriteNumber(names[i], n); break;
                    case long n: json.WriteNumber(names[i], n); break;
                    case ulong n: json.WriteNumber(names[i], n); break;
                    case DateTimeOffset t: json.WriteString(names[i], Text(t)); break;
                    default: json.WriteString(names[i], Text(values[i])); break;
                }
            }
            json.WriteEndObject();
            await json.FlushAsync(ct).ConfigureAwait(false);
            json.Reset();
            await output.WriteAsync(NewLine, ct).ConfigureAwait(false);
        }
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The Parquet schema of the export: one optional column per <see cref="ExportRow"/> column.</summary>
    public static ParquetSchema ParquetSchema { get; } = new(ExportRow.ColumnNames.Select((name, i) => Field(name, ExportRow.ColumnTypes[i])).ToArray());

    private static DataField Field(string name, Type type) => type switch
    {
        _ when type == typeof(string) => new DataField<string>(name, true),
        _ when type == typeof(ulong?) => new DataField<ulong?>(name),
        _ when type == typeof(int?) => new DataField<int?>(name),
        _ when type == typeof(long?) => new DataField<long?>(name),
        _ when type == typeof(long) => new DataField<long>(name),
        _ when type == typeof(bool?) => new DataField<bool?>(name),
        _ when type == typeof(DateTimeOffset) => new DataField<DateTime>(name),
        _ when type == typeof(DateTimeOffset?) => new DataField<DateTime?>(name),
        _ => throw new NotSupportedException($"export column {name} has type {type}"),
    };

    private static async Task WriteParquetAsync(IAsyncEnumerable<ExportRow> rows, Stream output, CancellationToken ct)
    {
        var fields = ParquetSchema.DataFields;
        // Parquet needs to know where it is in the file; a response body does not: count what goes through.
        var counted = new PositionStream(output);
        await using (var writer = await ParquetWriter.CreateAsync(ParquetSchema, counted, cancellationToken: ct).ConfigureAwait(false))
        {
            var buffer = new List<object?[]>(ParquetRowGroupSize);
            await foreach (var row in rows.WithCancellation(ct).ConfigureAwait(false))
            {
                buffer.Add(row.Values());
                if (buffer.Count == ParquetRowGroupSize)
                {
                    await WriteGroupAsync(writer, fields, buffer).ConfigureAwait(false);
                    buffer.Clear();
                }
            }
            if (buffer.Count > 0) await WriteGroupAsync(writer, fields, buffer).ConfigureAwait(false);
            await counted.FlushPendingAsync(ct).ConfigureAwait(false);
        }
        await counted.FlushPendingAsync(ct).ConfigureAwait(false);   // the footer
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task WriteGroupAsync(ParquetWriter writer, DataField[] fields, List<object?[]> rows)
    {
        using var group = writer.CreateRowGroup();
        for (int c = 0; c < fields.Length; c++)
        {
            var f = fields[c];
            var t = ExportRow.ColumnTypes[c];
            if (t == typeof(string)) await group.WriteAsync(f, rows.Select(r => (string?)r[c]).ToArray()!).ConfigureAwait(false);
            else if (t == typeof(ulong?)) await group.WriteAsync<ulong>(f, rows.Select(r => (ulong?)r[c]).ToArray()).ConfigureAwait(false);
            else if (t == typeof(int?)) await group.WriteAsync<int>(f, rows.Select(r => (int?)r[c]).ToArray()).ConfigureAwait(false);
            else if (t == typeof(long?)) await group.WriteAsync<long>(f, rows.Select(r => (long?)r[c]).ToArray()).ConfigureAwait(false);
            else if (t == typeof(long)) await group.WriteAsync<long>(f, rows.Select(r => (long)r[c]!).ToArray()).ConfigureAwait(false);
            else if (t == typeof(bool?)) await group.WriteAsync<bool>(f, rows.Select(r => (bool?)r[c]).ToArray()).ConfigureAwait(false);
            else if (t == typeof(DateTimeOffset?)) await group.WriteAsync<DateTime>(f, rows.Select(r => r[c] is DateTimeOffset d ? d.UtcDateTime : (DateTime?)null).ToArray()).ConfigureAwait(false);
            else await group.WriteAsync<DateTime>(f, rows.Select(r => ((DateTimeOffset)r[c]!).UtcDateTime).ToArray()).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A write-only pass-through that knows its position (for non-seekable outputs such as HTTP bodies). Synchronous
    /// writes (Parquet.Net makes some) are held in memory, at most a row group's worth, and written out asynchronously
    /// at the next asynchronous write or <see cref="FlushPendingAsync"/>, because response bodies refuse synchronous I/O.
    /// </summary>
    private sealed class PositionStream(Stream inner) : Stream
    {
        private readonly MemoryStream _pending = new();
        private long _position;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _position;
        public override long Position { get => _position; set => throw new NotSupportedException("write-only stream"); }
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => FlushPendingAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("write-only stream");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("write-only stream");
        public override void SetLength(long value) => throw new NotSupportedException("write-only stream");
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) { _pending.Write(buffer); _position += buffer.Length; }
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await FlushPendingAsync(cancellationToken).ConfigureAwait(false);
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            _position += buffer.Length;
        }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public async Task FlushPendingAsync(CancellationToken ct)
        {
            if (_pending.Length == 0) return;
            await inner.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), ct).ConfigureAwait(false);
            _pending.SetLength(0);
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;   // the caller owns the output
        protected override void Dispose(bool disposing) { }
    }
}
