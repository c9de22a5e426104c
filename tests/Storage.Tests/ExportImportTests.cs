namespace ClP2p.Storage.Tests;

public class ExportImportTests
{
    private static ExportRow Row(Action<string, Action<object?>> fill)
    {
        var values = new object?[ExportRow.ColumnNames.Count];
        for (int i = 0; i < values.Length; i++)
        {
            int at = i;
            fill(ExportRow.ColumnNames[i], v => values[at] = v);
        }
        return ExportRow.FromValues(values);
    }

    /// <summary>A value of each exported visit column's shown type, distinct per column.</summary>
    private static object Sample(VisitColumn c, int n) => c.Kind switch
    {
        ColumnKind.Int64 => (long)(1000 + n),
        ColumnKind.UInt64 => (ulong)(2000 + n),
        ColumnKind.Int32 => 3000 + n,
        ColumnKind.Bool => n % 2 == 0,
        ColumnKind.Text => "text-" + c.Name,
        ColumnKind.HexText or ColumnKind.Bytea => Convert.ToHexStringLower([(byte)n, 0xab, 0xcd, 0xef]),
        ColumnKind.TimestampTz => DateTimeOffset.UnixEpoch.AddDays(n),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    [Fact]
    public void An_imported_row_carries_every_exported_visit_column_back_into_its_visit()
    {
        var exported = VisitColumns.Exported.Select((c, n) => (Column: c, Value: Sample(c, n))).ToDictionary(x => x.Column.Name, x => x.Value);
        var row = Row((name, set) =>
        {
            if (exported.TryGetValue(name, out var v)) set(v);
            else if (name == "client_inferred") set(true);
            else if (name == "client") set("lighthouse");
        });

        VisitObservation visit = row.ToVisit(crawlId: 77, nodeId: [1, 2, 3], enrSeq: 9);

        Assert.Equal(77, visit.CrawlId);          // the importer's crawl, not the exporter's crawl_id column
        Assert.Equal(9UL, visit.EnrSeq);          // the record's seq when the row has none
        Assert.True(visit.ClientInferred);
        Assert.Equal("lighthouse", visit.Client);
        foreach (VisitColumn c in VisitColumns.Exported.Where(c => c.Name != "crawl_id"))
        {
            object? actual = typeof(VisitObservation).GetProperty(c.Property)!.GetValue(visit);
            object expected = exported[c.Name];
            if (actual is byte[] bytes) actual = Convert.ToHexStringLower(bytes);
            Assert.True(Equals(expected, actual), $"{c.Name}: expected {expected}, imported {actual}");
        }
    }

    [Fact]
    public void An_imported_row_with_bad_hex_names_the_column()
    {
        var row = Row((name, set) =>
        {
            if (name == "visited_at") set(DateTimeOffset.UnixEpoch);
            else if (name == "dial_outcome") set("ok");
            else if (name == "status_digest_sent") set("not hex");
        });
        var e = Assert.Throws<FormatException>(() => row.ToVisit(1, [1], 1));
        Assert.Contains("status_digest_sent", e.Message, StringComparison.Ordinal);
    }
}
