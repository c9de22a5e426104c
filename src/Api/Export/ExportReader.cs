using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ClP2p.Storage;
using ClP2p.Storage.Model;
using CsvHelper;
using CsvHelper.Configuration;
using Parquet;

namespace ClP2p.Api.Export;

/// <summary>One record of an export file read back: a row, or why the line could not be read (it is then skipped).</summary>
/// <param name="Line">1-based record number (CSV: data line after the header; NDJSON: line; Parquet: row).</param>
/// <param name="Row">The row, or null when <paramref name="Error"/> says what is wrong with it.</param>
/// <param name="Error">Why the record was not read; null for a row.</param>
public readonly record struct ExportRecord(long Line, ExportRow? Row, string? Error);

/// <summary>Thrown when an export file cannot be read at all (not the format, or a required column missing).</summary>
public sealed class ExportFormatException : Exception
{
    public ExportFormatException(string message) : base(message) { }
    public ExportFormatException() { }
    public ExportFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Reads the files <see cref="Exporter"/> writes (CSV, NDJSON, Parquet) back into <see cref="ExportRow"/>s, for
/// <c>clp2p import</c>. Columns are matched by name (<see cref="ExportRow.ColumnNames"/>; each is the snake_case name of
/// a column of the export), so files of older versions with fewer columns read too: a missing column is null. Unknown
/// columns are ignored. A file without one of <see cref="RequiredColumns"/> is refused whole; a record whose value
/// does not parse is returned as an error and the rest goes on.
/// </summary>
public static class ExportReader
{
    /// <summary>Columns a file must have to be imported.</summary>
    public static IReadOnlyList<string> RequiredColumns { get; } = ["node_id", "enr", "crawl_id", "visited_at", "dial_outcome"];

    private static readonly Dictionary<string, (int Index, Type Type)> Columns =
        ExportRow.ColumnNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => (x.i, ExportRow.ColumnTypes[x.i]), StringComparer.Ordinal);

    /// <summary>The format of a file from its extension (.csv, .ndjson/.jsonl, .parquet); false when unknown.</summary>
    public static bool TryFormatOf(string path, out ExportFormat format) =>
        ExportFormats.TryParse(Path.GetExtension(path).TrimStart('.'), out format);

    /// <summary>Reads the records of <paramref name="input"/> in <paramref name="format"/>, in file order.</summary>
    public static IAsyncEnumerable<ExportRecord> ReadAsync(Stream input, ExportFormat format, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        return format switch
        {
            ExportFormat.Csv => ReadCsvAsync(input, ct),
            ExportFormat.Ndjson => ReadNdjsonAsync(input, ct),
            ExportFormat.Parquet => ReadParquetAsync(input, ct),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    private static void CheckColumns(IEnumerable<string> present)
    {
        var set = present.ToHashSet(StringComparer.Ordinal);
        var missing = RequiredColumns.Where(c => !set.Contains(c)).ToList();
        if (missing.Count > 0) throw new ExportFormatException($"not a clp2p export: no column {string.Join(", ", missing)}");
    }

    private static ExportRecord Build(long line, Func<string, Type, object?> value, IEnumerable<string> present)
    {
        var values = new object?[ExportRow.ColumnNames.Count];
        values[Columns["vantage"].Index] = CrawlVantage.Default;
        foreach (string name in present)
        {
            if (!Columns.TryGetValue(name, out var column)) continue;
            object? v;
            try
            {
                v = value(name, column.Type);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or InvalidOperationException or InvalidCastException)
            {
                return new ExportRecord(line, null, $"column {name}: {ex.Message}");
            }
            if (v is null && name == "vantage") continue;
            values[column.Index] = v;
        }
        foreach (string required in RequiredColumns)
            if (values[Columns[required].Index] is null && required != "enr")
                return new ExportRecord(line, null, $"column {required} is empty");
        if (values[Columns["enr"].Index] is null) return new ExportRecord(line, null, "column enr is empty: the node's record is needed to import it");
        return new ExportRecord(line, ExportRow.FromValues(values), null);
    }

    private static object? FromText(string? text, Type type)
    {
        if (string.IsNullOrEmpty(text)) return type == typeof(long) || type == typeof(DateTimeOffset) ? throw new FormatException("a value is required") : null;
        CultureInfo c = CultureInfo.InvariantCulture;
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string)) return text;
        if (t == typeof(ulong)) return ulong.Parse(text, NumberStyles.None, c);
        if (t == typeof(int)) return int.Parse(text, NumberStyles.AllowLeadingSign, c);
        if (t == typeof(long)) return long.Parse(text, NumberStyles.AllowLeadingSign, c);
        if (t == typeof(bool)) return text switch { "true" => true, "false" => false, _ => throw new FormatException($"'{text}' is not true or false") };
        if (t == typeof(DateTimeOffset)) return DateTimeOffset.Parse(text, c, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        throw new InvalidOperationException($"no reader for {type}");
    }

    private static async IAsyncEnumerable<ExportRecord> ReadCsvAsync(Stream input, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(input, leaveOpen: true);
        using var csv = new CsvReader(reader, new CsvConfiguration(CultureInfo.InvariantCulture) { BadDataFound = null });
        if (!await csv.ReadAsync().ConfigureAwait(false) || !csv.ReadHeader())
            throw new ExportFormatException("empty file: no CSV header");
        string[] header = csv.HeaderRecord ?? [];
        CheckColumns(header);
        long line = 0;
        while (await csv.ReadAsync().ConfigureAwait(false))
        {
            ct.ThrowIfCancellationRequested();
            line++;
            yield return Build(line, (name, type) => FromText(csv.GetField(name), type), header);
        }
    }

    private static async IAsyncEnumerable<ExportRecord> ReadNdjsonAsync(Stream input, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(input, leaveOpen: true);
        long line = 0;
        bool checkedColumns = false;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } text)
        {
            line++;
            if (text.Length == 0) continue;
            JsonDocument? doc = null;
            string? bad = null;
            try
            {
                doc = JsonDocument.Parse(text);
            }
            catch (JsonException ex)
            {
                if (!checkedColumns) throw new ExportFormatException($"not NDJSON: line {line}: {ex.Message}", ex);
                bad = $"not JSON: {ex.Message}";
            }
            if (doc is null)
            {
                yield return new ExportRecord(line, null, bad);
                continue;
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    if (!checkedColumns) throw new ExportFormatException($"not a clp2p NDJSON export: line {line} is not an object");
                    yield return new ExportRecord(line, null, "not a JSON object");
                    continue;
                }
                var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
                if (!checkedColumns)
                {
                    CheckColumns(names);
                    checkedColumns = true;
                }
                JsonElement root = doc.RootElement;
                yield return Build(line, (name, type) => FromJson(root.GetProperty(name), type), names);
            }
        }
        if (!checkedColumns) throw new ExportFormatException("empty file: no NDJSON record");
    }

    private static object? FromJson(JsonElement e, Type type) => e.ValueKind switch
    {
        JsonValueKind.Null => FromText(null, type),
        JsonValueKind.String => FromText(e.GetString(), type),
        JsonValueKind.True or JsonValueKind.False or JsonValueKind.Number => FromText(e.GetRawText(), type),
        _ => throw new FormatException($"a JSON {e.ValueKind} is not a {type.Name}"),
    };

    private static async IAsyncEnumerable<ExportRecord> ReadParquetAsync(Stream input, [EnumeratorCancellation] CancellationToken ct)
    {
        Stream seekable = input;
        if (!input.CanSeek)
        {
            var copy = new MemoryStream();
            await input.CopyToAsync(copy, ct).ConfigureAwait(false);
            copy.Position = 0;
            seekable = copy;
        }
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(seekable, null, true, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            throw new ExportFormatException($"not a Parquet file: {ex.Message}", ex);
        }
        await using (reader.ConfigureAwait(false))
        {
            var fields = reader.Schema.GetDataFields().Where(f => Columns.ContainsKey(f.Name)).ToList();
            var names = fields.Select(f => f.Name).ToList();
            CheckColumns(names);
            long line = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                int count = checked((int)group.RowCount);
                var columns = new Dictionary<string, Array>(StringComparer.Ordinal);
                foreach (var f in fields)
                    columns[f.Name] = await ReadColumnAsync(group, f, Columns[f.Name].Type, count, ct).ConfigureAwait(false);
                for (int i = 0; i < count; i++)
                {
                    line++;
                    int row = i;
                    yield return Build(line, (name, type) => FromParquet(columns[name].GetValue(row), type), names);
                }
            }
        }
    }

    private static Task<Array> ReadColumnAsync(ParquetRowGroupReader group, Parquet.Schema.DataField f, Type exportType, int count, CancellationToken ct)
    {
        Type t = Nullable.GetUnderlyingType(exportType) ?? exportType;
        if (t == typeof(string)) return ReadStringsAsync(group, f, count, ct);
        if (t == typeof(ulong)) return ReadValuesAsync<ulong>(group, f, count, ct);
        if (t == typeof(int)) return ReadValuesAsync<int>(group, f, count, ct);
        if (t == typeof(long)) return ReadValuesAsync<long>(group, f, count, ct);
        if (t == typeof(bool)) return ReadValuesAsync<bool>(group, f, count, ct);
        if (t == typeof(DateTimeOffset)) return ReadValuesAsync<DateTime>(group, f, count, ct);
        throw new InvalidOperationException($"no Parquet reader for {exportType}");
    }

    private static async Task<Array> ReadStringsAsync(ParquetRowGroupReader group, Parquet.Schema.DataField f, int count, CancellationToken ct)
    {
        var a = new string?[count];
        await group.ReadAsync(f, a.AsMemory(), null, ct).ConfigureAwait(false);
        return a;
    }

    private static async Task<Array> ReadValuesAsync<T>(ParquetRowGroupReader group, Parquet.Schema.DataField f, int count, CancellationToken ct) where T : struct
    {
        if (f.IsNullable)
        {
            var nullable = new T?[count];
            await group.ReadAsync<T>(f, nullable.AsMemory(), null, ct).ConfigureAwait(false);
            return nullable;
        }
        var plain = new T[count];
        await group.ReadAsync<T>(f, plain.AsMemory(), null, ct).ConfigureAwait(false);
        return plain;
    }

    private static object? FromParquet(object? v, Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        return v switch
        {
            null => FromText(null, type),
            DateTime d when t == typeof(DateTimeOffset) => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
            string s => FromText(s, type),
            IConvertible n when t == typeof(ulong) || t == typeof(int) || t == typeof(long) || t == typeof(bool) => Convert.ChangeType(n, t, CultureInfo.InvariantCulture),
            _ => throw new FormatException($"a {v.GetType().Name} is not a {type.Name}"),
        };
    }
}
