using System.Diagnostics;
using System.Text;

namespace ClP2p.TestSupport;

/// <summary>
/// One JavaScript interop peer (a script in tests/interop run by <c>node</c>): its stdout lines go to the caller's
/// handler as they come, its stderr is kept for error messages, commands go in on stdin. Disposing closes stdin (the
/// scripts exit on EOF) and kills the process if it does not.
/// </summary>
public sealed class NodePeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _stdin = new(1, 1);

    private NodePeer(Process process) => _process = process;

    /// <summary>tests/interop: CLP2P_INTEROP_DIR, else the nearest such folder above the test binaries.</summary>
    public static string InteropDirectory()
    {
        string? env = Environment.GetEnvironmentVariable("CLP2P_INTEROP_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
        }
        throw new InvalidOperationException("tests/interop not found (set CLP2P_INTEROP_DIR)");
    }

    /// <summary>
    /// Starts <c>node <paramref name="script"/> <paramref name="arguments"/></c> in tests/interop. Every stdout line goes
    /// to <paramref name="onLine"/> (on a reader thread, in order). <paramref name="requiredPackage"/> is an npm package
    /// the script imports: missing, it fails with how to install the peers.
    /// </summary>
    public static NodePeer Start(string script, IEnumerable<string> arguments, string requiredPackage, Action<string> onLine, IReadOnlyDictionary<string, string>? environment = null)
    {
        string dir = InteropDirectory();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", requiredPackage)))
            throw new InvalidOperationException($"{dir}/node_modules is missing {requiredPackage}: run scripts/test (it installs the interop peers) or npm install in tests/interop");
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        if (Environment.GetEnvironmentVariable("CLP2P_JS_DEBUG") is { Length: > 0 } debug) psi.Environment["DEBUG"] = debug;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var peer = new NodePeer(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) onLine(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (peer._stderr) peer._stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process has exited (and its stdout has been read to the end).</summary>
    public Task Exited => _process.WaitForExitAsync();

    /// <summary>
    /// Waits for <paramref name="ready"/> (an event the caller completes from a stdout line). If the process exits
    /// first, or nothing happens within <see cref="Waits.HangGuard"/>, the peer is stopped and the error quotes its stderr.
    /// </summary>
    public async Task WaitReadyAsync(Task ready, string what)
    {
        using var guard = new CancellationTokenSource(Waits.HangGuard);
        Task exited = _process.WaitForExitAsync(guard.Token);
        await Task.WhenAny(ready, exited).ConfigureAwait(false);
        if (ready.IsCompletedSuccessfully) return;
        string stderr = Stderr;
        await DisposeAsync().ConfigureAwait(false);
        throw new InvalidOperationException($"{what} did not become ready ({(exited.IsCanceled ? "no answer" : "it exited")}): {stderr}");
    }

    /// <summary>Sends one command line on stdin.</summary>
    public async Task SendLineAsync(string line)
    {
        await _stdin.WaitAsync().ConfigureAwait(false);
        try
        {
            await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
            await _process.StandardInput.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _stdin.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(guard.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // never started, or already disposed
        }
        finally
        {
            if (!_process.HasExited)
            {
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
            _process.Dispose();
            _stdin.Dispose();
        }
    }
}
