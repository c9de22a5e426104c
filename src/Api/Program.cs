using ClP2p.Api;
using ClP2p.Storage;

// Standalone census API: dotnet run --project src/Api -- --db <db> [--data-dir DIR] --urls http://127.0.0.1:5080
var builder = WebApplication.CreateBuilder(args);
string dataDir = builder.Configuration["data-dir"] ?? builder.Configuration["DataDir"] ?? "clp2p-data";
if (!StorageOptions.TryParse(builder.Configuration["db"] ?? builder.Configuration["Db"], dataDir, out var storage, out var error))
{
    Console.Error.WriteLine("clp2p api: " + error);
    return 2;
}
await StorageMigrator.MigrateAsync(storage).ConfigureAwait(false);
await StoredNames.RefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin).ConfigureAwait(false);
builder.Services.AddClP2pApi(storage);
var app = builder.Build();
app.MapClP2pApi();
await app.RunAsync().ConfigureAwait(false);
return 0;

/// <summary>Entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
