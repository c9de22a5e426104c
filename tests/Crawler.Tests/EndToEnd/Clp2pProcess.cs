using System.Diagnostics;
using System.Text;

namespace ClP2p.Crawler.Tests.EndToEnd;

/// <summary>Runs the real `clp2p` executable (the built clp2p.dll) as a child process.</summary>
public sealed class Clp2pProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource<string> Seen)> _waiters = [];

    private Clp2pProcess(Process p) => _process = p;

    public static Clp2pProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, null, args);

    public static Clp2pProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "clp2p.dll");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException("clp2p did not start");
        var c = new Clp2pProcess(p);
        p.OutputDataReceived += (_, e) => c.Append(e.Data);
        p.ErrorDataReceived += (_, e) => c.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return c;
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.AppendLine(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!line.Contains(_waiters[i].Text, StringComparison.Ordinal)) continue;
                _waiters[i].Seen.TrySetResult(line);
                _waiters.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// The first output line (already printed or still to come) that contains <paramref name="text"/>. Throws when the
    /// process exits without printing one, or when <paramref name="hangGuard"/> passes (it bounds a hang, it does not
    /// time anything).
    /// </summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan hangGuard)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            foreach (var line in _output.ToString().Split('\n'))
                if (line.Contains(text, StringComparison.Ordinal)) return line.TrimEnd('\r');
            _waiters.Add((text, seen));
        }
        using var cts = new CancellationTokenSource(hangGuard);
        var exited = _process.WaitForExitAsync(cts.Token);
        if (await Task.WhenAny(seen.Task, exited) == seen.Task) return await seen.Task;
        if (!exited.IsCanceled) _process.WaitForExit();   // drains the output handlers: the line may be among the last
        if (seen.Task.IsCompleted) return await seen.Task;
        throw new TimeoutException($"clp2p {(exited.IsCanceled ? $"printed no line with '{text}' within {hangGuard}" : $"exited without a line with '{text}'")}:\n{Output}");
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process exits.</summary>
    public Task Exited => _process.WaitForExitAsync();

    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"clp2p did not exit within {timeout}:\n{Output}");
        }
        _process.WaitForExit();   // drains the output handlers
        return _process.ExitCode;
    }

    /// <summary>SIGTERM: asks for a graceful stop.</summary>
    public void Terminate() => Signal("-TERM");

    /// <summary>SIGSTOP: the process stays alive but runs nothing (no heartbeat, no end of its own) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT: a paused process runs on.</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill {signal} {_process.Id} exited {kill.ExitCode}");
    }

    /// <summary>SIGKILL: the process gets no chance to flush or clean up.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
