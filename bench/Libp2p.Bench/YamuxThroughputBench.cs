using BenchmarkDotNet.Attributes;
using ClP2p.Libp2p;
using ClP2p.Libp2p.Crypto;
using ClP2p.Libp2p.Mplex;
using ClP2p.Libp2p.Noise;
using ClP2p.Libp2p.Transport;
using ClP2p.Libp2p.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClP2p.Bench;

/// <summary>
/// One stream moving <see cref="TransferBytes"/> through a muxer session pair over an in-memory pipe, in 64 KiB
/// writes (yamux with its 256 KiB window and window updates). MB/s = TransferBytes / Mean.
/// </summary>
[MemoryDiagnoser]
public class YamuxThroughputBench
{
    public const int TransferBytes = 64 * 1024 * 1024;
    private const int WriteSize = 64 * 1024;

    private MuxerSession _client = null!;
    private MuxerSession _server = null!;
    private readonly byte[] _chunk = new byte[WriteSize];
    private TaskCompletionSource<long> _done = new();

    [Params("yamux", "yamux+noise", "mplex")]
    public string Stack { get; set; } = "yamux";

    [GlobalSetup]
    public void Setup()
    {
        var (a, b) = DuplexPipe.CreatePair(4 << 20);
        if (Stack.EndsWith("+noise", StringComparison.Ordinal))
        {
            using var ni = new NoiseLocalIdentity(Identity.GenerateSecp256k1());
            using var nr = new NoiseLocalIdentity(Identity.GenerateSecp256k1());
            var rt = NoiseSecurity.HandshakeAsync(b, false, nr, CancellationToken.None);
            a = NoiseSecurity.HandshakeAsync(a, true, ni, CancellationToken.None).GetAwaiter().GetResult().Stream;
            b = rt.GetAwaiter().GetResult().Stream;
        }
        bool yamux = Stack.StartsWith("yamux", StringComparison.Ordinal);
        _client = yamux ? new YamuxSession(a, true, NullLogger.Instance, Libp2pMetrics.Shared) : new MplexSession(a, true, NullLogger.Instance, Libp2pMetrics.Shared);
        _server = yamux ? new YamuxSession(b, false, NullLogger.Instance, Libp2pMetrics.Shared) : new MplexSession(b, false, NullLogger.Instance, Libp2pMetrics.Shared);
        _client.Start(s => Task.CompletedTask);
        _server.Start(async s =>
        {
            var buf = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = await s.ReadAsync(buf)) > 0)
            {
                total += n;
            }
            await s.CloseWriteAsync();
            _done.TrySetResult(total);
        });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "64 MiB over one stream")]
    public async Task<long> Transfer()
    {
        _done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var s = await _client.OpenStreamAsync(CancellationToken.None);
        for (int sent = 0; sent < TransferBytes; sent += WriteSize)
        {
            await s.WriteAsync(_chunk);
        }
        await s.CloseWriteAsync();
        long got = await _done.Task;
        await s.DisposeAsync();
        return got;
    }
}
