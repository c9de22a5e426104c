using System.Globalization;
using System.Text.Json.Nodes;
using ClP2p.Storage;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ClP2p.Api;

/// <summary>
/// Types, allowed values and descriptions of the API's query and path parameters in the OpenAPI document. The
/// handlers take parameters as text so that a bad value answers 400 problem+json naming it; the document still says
/// what is accepted (integers with their range, the census dimensions and export formats as enums, date-times), so a
/// client generated from it sends only valid values.
/// </summary>
internal static class OpenApiParameters
{
    private sealed record Doc(string Description, JsonSchemaType Type, string? Format = null, string? Minimum = null, string? Maximum = null,
        string[]? Enum = null, string? Pattern = null, string? Default = null);

    private static readonly Dictionary<string, Doc> ByName = new(StringComparer.Ordinal)
    {
        ["offset"] = new("Rows to skip (paging).", JsonSchemaType.Integer, "int32", Minimum: "0", Default: "0"),
        ["limit"] = new("Rows per page.", JsonSchemaType.Integer, "int32", Minimum: "1", Maximum: CensusService.MaxPageSize.ToString(CultureInfo.InvariantCulture), Default: "50"),
        ["network"] = new("Only nodes (or crawls) of this network, by name (mainnet, sepolia, hoodi, ...).", JsonSchemaType.String),
        ["crawl"] = new("A crawl id, or 'latest' (default): the newest succeeded crawl.", JsonSchemaType.String, Pattern: "^([0-9]+|latest)$", Default: "latest"),
        ["dimension"] = new("What to group the census by.", JsonSchemaType.String, Enum: [.. CensusDimensions.All.Select(CensusDimensions.Name)], Default: "client"),
        ["dimensions"] = new("Census dimensions, comma-separated (client,os,arch,...): one census of each.", JsonSchemaType.String,
            Pattern: "^(" + string.Join("|", CensusDimensions.All.Select(CensusDimensions.Name)) + ")(,(" + string.Join("|", CensusDimensions.All.Select(CensusDimensions.Name)) + "))*$"),
        ["from"] = new("Start of the range (ISO 8601); default 30 days ago.", JsonSchemaType.String, "date-time"),
        ["to"] = new("End of the range (ISO 8601); default now.", JsonSchemaType.String, "date-time"),
        ["client"] = new("Only nodes whose agent names this client (lighthouse, prysm, teku, nimbus, lodestar, grandine, ...).", JsonSchemaType.String),
        ["fork"] = new("Only nodes whose ENR fork digest is this (8 hex digits) or whose fork has this name (electra, fulu, ...).", JsonSchemaType.String),
        ["country"] = new("Only nodes whose IP is in this country (ISO 3166 alpha-2 code).", JsonSchemaType.String),
        ["outcome"] = new("Only nodes with this dial outcome: ok, an error class, or not_dialled.", JsonSchemaType.String),
        ["format"] = new("Export format.", JsonSchemaType.String, Enum: ["csv", "ndjson", "parquet"], Default: "csv"),
        ["version"] = new("Only nodes running this client version (as the census labels it, e.g. v7.1.0).", JsonSchemaType.String),
        ["q"] = new("Search: part of a node id, IP, peer id or agent text.", JsonSchemaType.String),
        ["digest_mismatch"] = new("Only nodes whose Status fork digest differs from their ENR's (true) or agrees with it (false).", JsonSchemaType.String, Enum: ["true", "false"]),
        ["crawl_network"] = new("Only crawls that were started for this network (the crawl's own network, not the node's).", JsonSchemaType.String),
    };

    /// <summary>Parameters whose meaning depends on the operation: (path, name) → doc.</summary>
    private static readonly Dictionary<(string Path, string Name), Doc> ByPath = new()
    {
        [("/api/v1/networks/{network}/readiness", "network")] = new("Network name (mainnet, sepolia, hoodi, ...).", JsonSchemaType.String),
        [("/api/v1/networks/{network}/readiness", "fork")] = new("A scheduled fork or BPO of the network by name; default the next one.", JsonSchemaType.String),
        [("/api/v1/churn", "from")] = new("The earlier crawl's id; default the crawl before 'to'.", JsonSchemaType.String, Pattern: "^[0-9]+$"),
        [("/api/v1/churn", "to")] = new("The later crawl's id, or 'latest' (default).", JsonSchemaType.String, Pattern: "^([0-9]+|latest)$", Default: "latest"),
        [("/api/v1/churn", "limit")] = new("Nodes listed per kind of change.", JsonSchemaType.Integer, "int32", Minimum: "0",
            Maximum: CensusService.MaxChurnList.ToString(CultureInfo.InvariantCulture), Default: "100"),
        [("/api/v1/census/merged", "from")] = new("Start of the window (ISO 8601); default 24 hours ago.", JsonSchemaType.String, "date-time"),
        [("/api/v1/census/merged", "to")] = new("End of the window, exclusive (ISO 8601); default now.", JsonSchemaType.String, "date-time"),
        [("/api/v1/nodes/{id}/uptime", "id")] = new("Node id: 64 hex digits.", JsonSchemaType.String, Pattern: "^[0-9a-fA-F]{64}$"),
    };

    private static readonly Dictionary<string, Doc> PathIds = new(StringComparer.Ordinal)
    {
        ["/api/v1/nodes/{id}"] = new("Node id: 64 hex digits.", JsonSchemaType.String, Pattern: "^[0-9a-fA-F]{64}$"),
        ["/api/v1/crawls/{id}"] = new("A crawl id, or 'latest'.", JsonSchemaType.String, Pattern: "^([0-9]+|latest)$"),
        ["/api/v1/crawls/{id}/export"] = new("A crawl id, or 'latest'.", JsonSchemaType.String, Pattern: "^([0-9]+|latest)$"),
    };

    /// <summary>Enums travel as snake_case strings (JsonStringEnumConverter with SnakeCaseLower): the schema says so.</summary>
    public static Task DescribeEnums(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        Type type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        if (!type.IsEnum) return Task.CompletedTask;
        schema.Type = JsonSchemaType.String;
        schema.Format = null;
        schema.Enum = [.. Enum.GetNames(type).Select(n => (JsonNode)JsonValue.Create(System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(n))!)];
        if (type == typeof(CensusDimension)) schema.Description = "A census dimension (what nodes are grouped by).";
        return Task.CompletedTask;
    }

    public static Task Describe(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        string path = "/" + (context.Description.RelativePath ?? "").TrimStart('/');
        foreach (var p in operation.Parameters ?? [])
        {
            if (p is not OpenApiParameter parameter || parameter.Name is null) continue;
            Doc? doc = ByPath.GetValueOrDefault((path, parameter.Name))
                ?? (parameter.In == ParameterLocation.Path && parameter.Name == "id" ? PathIds.GetValueOrDefault(path) : ByName.GetValueOrDefault(parameter.Name));
            if (doc is null) continue;
            parameter.Description = doc.Description;
            parameter.Schema = new OpenApiSchema
            {
                Type = doc.Type,
                Format = doc.Format,
                Minimum = doc.Minimum,
                Maximum = doc.Maximum,
                Pattern = doc.Pattern,
                Enum = doc.Enum?.Select(v => (JsonNode)JsonValue.Create(v)!).ToList(),
                Default = doc.Default is null ? null : doc.Type == JsonSchemaType.Integer
                    ? JsonValue.Create(int.Parse(doc.Default, CultureInfo.InvariantCulture)) : JsonValue.Create(doc.Default),
            };
        }
        return Task.CompletedTask;
    }
}
