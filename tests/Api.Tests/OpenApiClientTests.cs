using System.Reflection;
using System.Text.Json;
using ClP2p.Storage;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using NSwag.CodeGeneration.CSharp;
using NSwag.CodeGeneration.OperationNameGenerators;

namespace ClP2p.Api.Tests;

/// <summary>
/// The OpenAPI document is complete enough to generate a client: it reads without errors in Microsoft.OpenApi, every
/// operation has an id, typed parameters with descriptions and a schema for each response; NSwag generates a C# client
/// from it, Roslyn compiles that client, and the compiled client reads the census from the running API.
/// </summary>
public sealed class OpenApiClientTests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private async Task<string> DocumentAsync()
    {
        using var client = fx.Factory.CreateClient();
        return await client.GetStringAsync("/openapi/v1.json");
    }

    [Fact]
    public async Task Document_reads_without_errors_and_describes_every_operation()
    {
        string json = await DocumentAsync();
        var read = OpenApiDocument.Parse(json, "json");
        Assert.True(read.Diagnostic?.Errors is null or { Count: 0 }, string.Join("; ", read.Diagnostic?.Errors.Select(e => e.ToString()) ?? []));
        var doc = read.Document!;
        Assert.NotEmpty(doc.Components!.Schemas!);
        foreach (var (path, item) in doc.Paths)
        {
            foreach (var (method, op) in item.Operations!)
            {
                string where = $"{method} {path}";
                Assert.False(string.IsNullOrEmpty(op.OperationId), $"{where} has no operationId");
                Assert.False(string.IsNullOrEmpty(op.Summary), $"{where} has no summary");
                Assert.True(op.Responses!.TryGetValue("200", out var ok), $"{where} has no 200 response");
                Assert.True(ok!.Content is { Count: > 0 } && ok.Content.Values.All(c => c.Schema is not null), $"{where}: the 200 response has no schema");
                foreach (var p in op.Parameters ?? [])
                {
                    Assert.False(string.IsNullOrEmpty(p.Description), $"{where}: parameter {p.Name} has no description");
                    Assert.True(p.Schema?.Type is not null, $"{where}: parameter {p.Name} has no type");
                }
                if (path.StartsWith("/api/v1/", StringComparison.Ordinal) && path != "/api/v1/networks")
                    Assert.True(op.Responses.ContainsKey("400"), $"{where} does not document its 400 problem");
            }
        }
        var census = doc.Paths["/api/v1/census"].Operations![HttpMethod.Get];
        var dimension = census.Parameters!.Single(p => p.Name == "dimension").Schema!;
        Assert.Equal(CensusDimensions.All.Select(CensusDimensions.Name).Order(), dimension.Enum!.Select(e => e.GetValue<string>()).Order());
        var limit = doc.Paths["/api/v1/nodes"].Operations![HttpMethod.Get].Parameters!.Single(p => p.Name == "limit").Schema!;
        Assert.Equal(JsonSchemaType.Integer, limit.Type);
        Assert.Equal(CensusService.MaxPageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), limit.Maximum);
        Assert.True(census.Responses!.ContainsKey("404"));
    }

    [Fact]
    public async Task Client_generated_from_the_document_compiles_and_reads_the_census()
    {
        // NSwag reads OpenAPI 3.0; Microsoft.OpenApi writes the served 3.1 document down to 3.0 (the schemas are the same).
        var read = OpenApiDocument.Parse(await DocumentAsync(), "json");
        using var writer = new StringWriter();
        read.Document!.SerializeAsV3(new OpenApiJsonWriter(writer));
        var document = await NSwag.OpenApiDocument.FromJsonAsync(writer.ToString());
        var settings = new CSharpClientGeneratorSettings
        {
            ClassName = "CensusClient",
            GenerateClientInterfaces = false,
            OperationNameGenerator = new SingleClientFromOperationIdOperationNameGenerator(),
        };
        settings.CSharpGeneratorSettings.Namespace = "Generated";
        settings.CSharpGeneratorSettings.JsonLibrary = NJsonSchema.CodeGeneration.CSharp.CSharpJsonLibrary.SystemTextJson;
        string code = new CSharpClientGenerator(document, settings).GenerateFile();

        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Generated.CensusClient", [CSharpSyntaxTree.ParseText(code)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
        var assembly = Assembly.Load(image.ToArray());

        using var http = fx.Factory.CreateClient();
        var type = assembly.GetType("Generated.CensusClient")!;
        var ctor = type.GetConstructors().Single();
        object client = ctor.Invoke([.. ctor.GetParameters().Select(p => p.ParameterType == typeof(HttpClient) ? http : (object?)http.BaseAddress!.ToString())]);
        var getCensus = type.GetMethods().Single(m => m.Name == "GetCensusAsync" && m.GetParameters().All(p => p.ParameterType != typeof(CancellationToken)));
        object?[] args = [.. getCensus.GetParameters().Select(p => p.Name switch
        {
            "dimension" => Enum.Parse(Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType, "Client", ignoreCase: true),
            "crawl" => fx.Crawl1.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        })];
        var task = (Task)getCensus.Invoke(client, args)!;
        await task;
        object result = task.GetType().GetProperty("Result")!.GetValue(task)!;

        // What the generated client read equals what the API sent.
        using var viaClient = JsonDocument.Parse(JsonSerializer.Serialize(result, result.GetType()));
        var root = viaClient.RootElement;
        Assert.Equal(3, root.GetProperty("total").GetInt64());
        Assert.Equal(fx.Crawl1, root.GetProperty("crawl").GetProperty("id").GetInt64());
        var groups = root.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString() ?? "", g => g.GetProperty("count").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["lighthouse"] = 1, ["nimbus"] = 1, [""] = 1 }, groups);
    }
}
