using System.CommandLine;
using ClP2p.Api;
using ClP2p.Api.CommandLine;
using ClP2p.Storage;

// Standalone census API: dotnet run --project src/Api -- --db <db> [--data-dir DIR] [--urls http://127.0.0.1:5080].
// It only reads: it opens an existing database and never creates one. Bad options: one line, exit 2; a database that
// cannot be reached or a port in use: one line, exit 1 (details in the log).
return await ApiProgram.MainAsync(args).ConfigureAwait(false);

/// <summary>Entry point, visible to WebApplicationFactory.</summary>
public partial class Program;

/// <summary>The standalone API's command line.</summary>
public static class ApiProgram
{
    public const string Name = "clp2p-api";
    public const string DefaultUrls = "http://127.0.0.1:5080";

    public static readonly Option<string?> Db = new("--db")
    {
        Description = "Database to serve: sqlite:PATH, postgres://user:pass@host:port/db, or Host=...;Database=...; must exist. Default: clp2p.db in the data directory",
        HelpName = "DB",
    };
    public static readonly Option<string?> DataDir = new("--data-dir") { Description = "Data directory of the default SQLite database (default ./clp2p-data)", HelpName = "DIR" };
    public static readonly Option<string?> Urls = OptionParsers.HttpUrls("--urls", $"Where the API listens (default {DefaultUrls}; several separated by ';')");

    public static RootCommand BuildCommand()
    {
        var root = new RootCommand("ClP2p census API over an existing clp2p database (read-only): /api/v1, /openapi/v1.json, /scalar.");
        root.Options.Add(Db);
        root.Options.Add(DataDir);
        root.Options.Add(Urls);
        return root;
    }

    /// <summary>Host settings a host passes as --key=value (WebApplicationFactory: environment, content root, application
    /// name); they go to the web host, not to the command line.</summary>
    private static readonly string[] HostArgs = ["--environment=", "--contentRoot=", "--applicationName="];

    public static Task<int> MainAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string[] hostArgs = [.. args.Where(a => HostArgs.Any(h => a.StartsWith(h, StringComparison.OrdinalIgnoreCase)))];
        var root = BuildCommand();
        root.SetAction((p, ct) => ServeAsync(p.GetValue(Db), p.GetValue(DataDir), p.GetValue(Urls), hostArgs, ct));
        return CommandRunner.RunAsync(root, [.. args.Except(hostArgs)], Name);
    }

    private static async Task<int> ServeAsync(string? db, string? dataDir, string? urls, string[] hostArgs, CancellationToken ct)
    {
        var builder = WebApplication.CreateBuilder(hostArgs);
        // Values a host gives through configuration (Db / DataDir settings, ASPNETCORE_URLS) apply when no flag is given.
        db ??= builder.Configuration["db"] ?? builder.Configuration["Db"];
        dataDir ??= builder.Configuration["data-dir"] ?? builder.Configuration["DataDir"] ?? "clp2p-data";
        if (urls is not null) builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        else if (string.IsNullOrEmpty(builder.Configuration["urls"])) builder.WebHost.UseUrls(DefaultUrls);

        WebApplication? app = null;
        ILogger? log = null;
        try
        {
            if (!StorageOptions.TryParse(db, dataDir, out var storage, out var error)) throw new UsageException(error);
            storage = await StorageMigrator.OpenExistingAsync(storage, ct).ConfigureAwait(false);
            await StoredNames.RefreshAsync(storage, ClP2p.Eth2.Networks.NetworkRegistry.Builtin, ct).ConfigureAwait(false);
            builder.Services.AddClP2pApi(storage);
            app = builder.Build();
            log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Name);
            app.MapClP2pApi();
            await app.RunAsync().ConfigureAwait(false);
            return CommandRunner.ExitOk;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && ex.GetType().Name != "HostAbortedException")
        {
            using var fallback = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.UseUtcTimestamp = true; }));
            return await CommandRunner.ReportAsync(ex, Name, log ?? fallback.CreateLogger(Name)).ConfigureAwait(false);
        }
        finally
        {
            if (app is not null) await app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
