using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ClP2p.Discovery;

namespace ClP2p.Bench;

/// <summary>
/// Start-up of the crawler: `dotnet run -c Release --project bench/Crawl.Bench -- startup --exe PATH [--runs 5]`
/// starts PATH (the published `clp2p`, or `dotnet` with `--dll`) as `clp2p crawl` with one bootnode that is a bare UDP
/// socket of this process on 127.0.0.1, and reports the time from process start to the first discv5 packet that
/// socket receives (each run in a fresh data directory: the SQLite schema is created first, as on a first run).
/// </summary>
public static class StartupBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string exe = Arg(args, "--exe") ?? throw new ArgumentException("--exe PATH (the published clp2p executable)");
        string? dll = Arg(args, "--dll");
        int runs = Arg(args, "--runs") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 5;
        var results = new List<double>();
        var cpus = new List<double>();
        for (int i = 1; i <= runs; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            var boot = new EnrBuilder().WithIp(IPAddress.Loopback).WithUdp(port).Build(RandomNumberGenerator.GetBytes(32));
            string dir = Directory.CreateTempSubdirectory("clp2p-startup-").FullName;
            var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            if (dll is not null) psi.ArgumentList.Add(dll);
            foreach (var a in new[] { "crawl", "--network", "custom", "--bootnode", boot.ToText(), "--allow-loopback", "--no-dial",
                         "--listen-address", "127.0.0.1", "--max-duration", "3s", "--data-dir", dir })
                psi.ArgumentList.Add(a);
            var buffer = new byte[1500];
            var receive = socket.ReceiveAsync(buffer);
            var clock = Stopwatch.StartNew();
            using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{exe} did not start");
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var first = await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(30))).ConfigureAwait(false);
            double ms = clock.Elapsed.TotalMilliseconds;
            double cpuMs = CpuMs(p.Id);
            if (first != receive) { Console.WriteLine($"run {i}: no packet within 30 s"); p.Kill(true); continue; }
            results.Add(ms);
            cpus.Add(cpuMs);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {i}: first discv5 packet {ms:0} ms after process start, {cpuMs:0} ms of CPU by then"));
            await p.WaitForExitAsync().ConfigureAwait(false);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        if (results.Count == 0) return 1;
        results.Sort();
        cpus.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median {results[results.Count / 2]:0} ms (min {results[0]:0} ms) to the first packet, median {cpus[cpus.Count / 2]:0} ms of CPU, over {results.Count} runs; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        return 0;
    }

    /// <summary>utime + stime of a running process (/proc/PID/stat fields 14 and 15, clock ticks of 10 ms).</summary>
    private static double CpuMs(int pid)
    {
        try
        {
            string s = File.ReadAllText($"/proc/{pid}/stat");
            var f = s[(s.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) * 10.0;
        }
        catch (IOException) { return double.NaN; }
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
