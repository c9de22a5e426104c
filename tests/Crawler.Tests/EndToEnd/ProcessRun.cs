using System.Diagnostics;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>One run of a built executable (clp2p.dll, ClP2p.Api.dll) to its end, with its output kept apart.</summary>
public sealed record ProcessRun(int ExitCode, string Stdout, string Stderr)
{
    public static string Dll(string name) => Path.Combine(AppContext.BaseDirectory, name);

    /// <summary>Runs `dotnet DLL ARGS` in <paramref name="cwd"/> with extra environment variables; kills it after
    /// <paramref name="timeout"/> (a hang is a failure, not a wait).</summary>
    public static async Task<ProcessRun> RunAsync(string dll, string cwd, IReadOnlyDictionary<string, string>? env, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll(dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{dll} did not start");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dll} {string.Join(' ', args)} did not exit within {timeout}:\n{await stdout}\n{await stderr}");
        }
        return new ProcessRun(p.ExitCode, await stdout, await stderr);
    }

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stderr:\n{Stderr}\n--- stdout:\n{Stdout}";
}
