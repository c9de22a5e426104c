using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ClP2p.Sim;

/// <summary>How a crawl's export compares with the simulator's ground truth.</summary>
public sealed record CompareResult
{
    public int Records { get; init; }
    public int Live { get; init; }
    public int Dialable { get; init; }
    /// <summary>Records of the truth that the export has a row for.</summary>
    public int Found { get; init; }
    public int LiveFound { get; init; }
    /// <summary>Live nodes whose row says discovery answered (and, when the export has the column, with no discovery error).</summary>
    public int Enumerated { get; init; }
    /// <summary>Live nodes whose row lists as many neighbours as the node's table holds (the truth's table_size): every
    /// record of its table came, not only an answer. Counted when both the row and the truth have the figures.</summary>
    public int TablesComplete { get; init; }
    /// <summary>Live nodes whose row and truth both give a table size (the base of <see cref="TablesComplete"/>).</summary>
    public int TablesCompared { get; init; }
    /// <summary>Records missing from the live nodes' tables that were not complete, summed.</summary>
    public int TableRecordsMissing { get; init; }
    /// <summary>Dialable nodes whose row has dial_outcome ok.</summary>
    public int DialledOk { get; init; }
    /// <summary>Rows that contradict the truth (see <see cref="Problems"/>).</summary>
    public int Wrong { get; init; }
    /// <summary>Node ids with more than one row.</summary>
    public int WrittenTwice { get; init; }
    public int Rows { get; init; }
    /// <summary>Live nodes not found / not enumerated, dialable nodes not ok (with their outcome), wrong rows: the first few of each.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];
    public IReadOnlyDictionary<string, int> DialableOutcomes { get; init; } = new Dictionary<string, int>();

    public string Format()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"truth:         {Records} records, {Live} live, {Dialable} dialable, {Records - Live} dead");
        sb.AppendLine(c, $"found:         {Found} / {Records} records ({Pct(Found, Records)}); live {LiveFound} / {Live} ({Pct(LiveFound, Live)})");
        sb.AppendLine(c, $"enumerated:    {Enumerated} / {Live} live ({Pct(Enumerated, Live)})");
        sb.AppendLine(c, $"tables:        {TablesComplete} / {TablesCompared} live nodes' tables complete ({Pct(TablesComplete, TablesCompared)}); {TableRecordsMissing} records missing from the others");
        sb.AppendLine(c, $"dialled ok:    {DialledOk} / {Dialable} dialable ({Pct(DialledOk, Dialable)}); outcomes of dialable: {string.Join(", ", DialableOutcomes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}"))}");
        sb.AppendLine(c, $"wrong:         {Wrong}");
        sb.AppendLine(c, $"written twice: {WrittenTwice} ({Rows} rows)");
        foreach (var p in Problems) sb.AppendLine(c, $"  {p}");
        return sb.ToString();
    }

    private static string Pct(int a, int b) => b == 0 ? "-" : (100.0 * a / b).ToString("0.00", CultureInfo.InvariantCulture) + " %";
}

public static class Compare
{
    private const int MaxProblemsPerKind = 10;

    /// <summary>Reads an NDJSON export (`clp2p export --format ndjson`) and a ground truth file and counts.</summary>
    public static CompareResult Run(string exportPath, string truthPath)
    {
        using var truthDoc = JsonDocument.Parse(File.ReadAllBytes(truthPath));
        var truth = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var n in truthDoc.RootElement.GetProperty("nodes").EnumerateArray()) truth[n.GetProperty("node_id").GetString()!] = n.Clone();

        var rows = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        int rowCount = 0, twice = 0, wrong = 0;
        var problems = new List<string>();
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        void Problem(string kind, string text)
        {
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            if (kinds[kind] <= MaxProblemsPerKind) problems.Add(text);
        }
        foreach (var line in File.ReadLines(exportPath))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var row = doc.RootElement;
            rowCount++;
            string id = row.GetProperty("node_id").GetString()!;
            if (!rows.TryAdd(id, row.Clone())) { twice++; Problem("twice", $"written twice: {id}"); }
        }

        int found = 0, liveFound = 0, enumerated = 0, ok = 0, live = 0, dialable = 0, tablesComplete = 0, tablesCompared = 0, recordsMissing = 0;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (id, t) in truth)
        {
            bool isLive = t.GetProperty("live").GetBoolean(), isDialable = t.GetProperty("dialable").GetBoolean();
            string kind = t.GetProperty("kind").GetString()!;
            if (isLive) live++;
            if (isDialable) dialable++;
            if (!rows.TryGetValue(id, out var row))
            {
                if (isLive) Problem("missing", $"live node not found: {id} ({kind}, rtt {t.GetProperty("rtt_ms").GetInt32()} ms)");
                if (isDialable) outcomes["not_found"] = outcomes.GetValueOrDefault("not_found") + 1;
                continue;
            }
            found++;
            bool answered = row.TryGetProperty("discovery_answered", out var a) && a.ValueKind == JsonValueKind.True;
            bool discoveryError = row.TryGetProperty("discovery_error", out var de) && de.ValueKind == JsonValueKind.String && de.GetString()!.Length > 0;
            string outcome = Str(row, "dial_outcome") ?? "";
            if (isLive)
            {
                liveFound++;
                if (t.TryGetProperty("table_size", out var size) && size.ValueKind == JsonValueKind.Number
                    && row.TryGetProperty("neighbours", out var nb) && nb.ValueKind is JsonValueKind.Number or JsonValueKind.Null)
                {
                    tablesCompared++;
                    int have = nb.ValueKind == JsonValueKind.Number ? nb.GetInt32() : 0;
                    if (have >= size.GetInt32()) tablesComplete++;
                    else
                    {
                        recordsMissing += size.GetInt32() - have;
                        Problem("table_short", $"live node's table short of {size.GetInt32() - have} of its {size.GetInt32()} records: {id} ({kind}, rtt {t.GetProperty("rtt_ms").GetInt32()} ms)");
                    }
                }
                if (answered && !discoveryError) enumerated++;
                else Problem("not_enumerated", $"live node not enumerated: {id} ({kind}, rtt {t.GetProperty("rtt_ms").GetInt32()} ms, answered {answered}{(discoveryError ? ", error " + de.GetString() : "")})");
            }
            else if (answered)
            {
                wrong++;
                Problem("wrong", $"dead record reported as answering discovery: {id}");
            }
            if (isDialable)
            {
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                if (outcome == "ok")
                {
                    ok++;
                    if (Str(row, "agent_version") != t.GetProperty("agent").GetString()
                        || Str(row, "status_fork_digest") != t.GetProperty("status_fork_digest").GetString()
                        || Str(row, "peer_id") != t.GetProperty("peer_id").GetString()
                        || (row.TryGetProperty("head_slot", out var hs) && hs.ValueKind == JsonValueKind.Number && hs.GetUInt64() != t.GetProperty("head_slot").GetUInt64()))
                    {
                        wrong++;
                        Problem("wrong", $"dial ok with facts that differ from the truth: {id} (agent '{Str(row, "agent_version")}', status digest {Str(row, "status_fork_digest")})");
                    }
                }
                else Problem("not_ok", $"dialable node ended {outcome}: {id} (rtt {t.GetProperty("rtt_ms").GetInt32()} ms): {Str(row, "dial_error")}");
            }
            else if (outcome == "ok")
            {
                wrong++;
                Problem("wrong", $"dial ok for a node that is not dialable: {id} ({kind})");
            }
        }
        foreach (var id in rows.Keys)
        {
            if (truth.ContainsKey(id)) continue;
            wrong++;
            Problem("wrong", $"row for a node the network does not have: {id}");
        }
        foreach (var (k, n) in kinds)
            if (n > MaxProblemsPerKind) problems.Add($"... {n - MaxProblemsPerKind} more of kind {k}");
        return new CompareResult
        {
            Records = truth.Count, Live = live, Dialable = dialable, Found = found, LiveFound = liveFound, Enumerated = enumerated,
            TablesComplete = tablesComplete, TablesCompared = tablesCompared, TableRecordsMissing = recordsMissing,
            DialledOk = ok, Wrong = wrong, WrittenTwice = twice, Rows = rowCount, Problems = problems, DialableOutcomes = outcomes,
        };
    }

    private static string? Str(JsonElement row, string name) =>
        row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
