using System.CommandLine;
using System.CommandLine.Help;
using System.Net.Sockets;
using ClP2p.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Api.CommandLine;

/// <summary>
/// Runs a System.CommandLine root so that every failure reaches the user as one line on standard error: exit 2 for a
/// bad option (parse errors, <see cref="UsageException"/>), exit 1 for a failure of the environment (database, ports,
/// files; details in the log). Help still prints in full.
/// </summary>
public static class CommandRunner
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    /// <summary>Parses <paramref name="args"/> and runs the chosen command.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args, string program, InvocationConfiguration? config = null, TextWriter? stderr = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        stderr ??= Console.Error;
        config ??= new InvocationConfiguration();
        config.EnableDefaultExceptionHandler = false;
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            string prefix = CommandName(program, parse);
            var unmatched = parse.UnmatchedTokens.ToHashSet(StringComparer.Ordinal);
            var messages = parse.Errors
                .Select(e => unmatched.FirstOrDefault(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)) is { } token
                    ? (token.StartsWith('-') ? $"unknown option '{token}'" : $"unexpected argument '{token}'")
                    : Tidy(e.Message))
                .Distinct(StringComparer.Ordinal).ToList();
            await stderr.WriteLineAsync($"{prefix}: {string.Join("; ", messages)} (see {prefix} --help)").ConfigureAwait(false);
            return ExitUsage;
        }
        try
        {
            return await parse.InvokeAsync(config).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return await ReportAsync(ex, CommandName(program, parse), NullLogger.Instance, stderr).ConfigureAwait(false);
        }
    }

    /// <summary>Prints the one line for <paramref name="ex"/>, logs the details, and returns the exit code.</summary>
    public static async Task<int> ReportAsync(Exception ex, string command, ILogger log, TextWriter? stderr = null)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(log);
        stderr ??= Console.Error;
        if (Unwrap<UsageException>(ex) is { } usage)
        {
            await stderr.WriteLineAsync($"{command}: {usage.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        if (Unwrap<DatabaseMissingException>(ex) is { } missing)
        {
            // The --db/--data-dir named no clp2p database: a bad path, like a bad option.
            await stderr.WriteLineAsync($"{command}: {missing.Message}").ConfigureAwait(false);
            return ExitUsage;
        }
        string line = DescribeEnvironmentFailure(ex) ?? $"unexpected error: {Tidy(ex.Message)} (details in the log; CLP2P_LOG_LEVEL=Debug shows more)";
        log.LogError("{Command} failed: {Cause}; {Details}", command, line, Chain(ex));
        log.LogDebug(ex, "{Command} failed", command);
        await stderr.WriteLineAsync($"{command}: {line}").ConfigureAwait(false);
        return ExitFailure;
    }

    /// <summary>
    /// One line naming the cause when <paramref name="ex"/> is a failure of the environment (database, port, file
    /// system), else null.
    /// </summary>
    public static string? DescribeEnvironmentFailure(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (Unwrap<EnvironmentFailureException>(ex) is { } env) return env.Message;
        if (StorageFailures.Describe(ex) is { } db) return db;
        // Kestrel: IOException "Failed to bind to address http://127.0.0.1:5080: address already in use." around an
        // AddressInUseException (which its socket transport throws for SocketError.AddressAlreadyInUse).
        if (Unwrap<AddressInUseException>(ex) is not null && Unwrap<IOException>(ex) is { } io)
            return $"{Tidy(io.Message).TrimEnd('.')}: another process holds the port (stop it or choose another --urls)";
        if (Unwrap<SocketException>(ex) is { SocketErrorCode: SocketError.AddressAlreadyInUse } inUse)
            return $"address already in use: {Tidy(inUse.Message)}; another process holds the port (stop it or choose another port)";
        if (Unwrap<UnauthorizedAccessException>(ex) is { } denied) return $"permission denied: {Tidy(denied.Message)}";
        return null;
    }

    /// <summary>The exception's messages from outermost to innermost, on one line.</summary>
    public static string Chain(Exception ex)
    {
        var parts = new List<string>();
        for (Exception? e = ex; e is not null; e = e.InnerException) parts.Add($"{e.GetType().Name}: {Tidy(e.Message)}");
        return string.Join(" <- ", parts);
    }

    public static T? Unwrap<T>(Exception? ex) where T : Exception
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is T t) return t;
            if (e is AggregateException agg && agg.InnerExceptions.Select(Unwrap<T>).FirstOrDefault(x => x is not null) is { } inner) return inner;
        }
        return null;
    }

    /// <summary>A message on one line.</summary>
    public static string Tidy(string message) =>
        string.Join(' ', (message ?? "").Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string CommandName(string program, ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
        return names.Count == 0 ? program : $"{program} {string.Join(' ', names)}";
    }
}
