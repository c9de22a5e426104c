using System.Buffers;
using ClP2p.Libp2p.Codecs;
using ClP2p.Libp2p.Multistream;

namespace ClP2p.Libp2p.Protocols;

/// <summary>/ipfs/id/1.0.0: the responder writes one <c>uvarint(len) || Identify</c> and closes (identify.md).</summary>
internal static class Identify
{
    public const string ProtocolId = "/ipfs/id/1.0.0";

    /// <summary>Answers the remote's identify request with our agent, protocols, key and its observed address.</summary>
    public static async Task HandleAsync(Libp2pStream stream, Libp2pConnection connection, CancellationToken ct)
    {
        var host = connection.Host;
        byte[] msg = IdentifyMessage.Encode(
            host.Options.AgentVersion,
            host.Options.ProtocolVersion,
            host.Protocols.Order(StringComparer.Ordinal),
            host.ListenAddrs,
            Multiaddr.FromTcpEndPoint(connection.RemoteEndPoint),
            host.Options.Identity.PublicKey);
        byte[] frame = new byte[Varint.GetLength((ulong)msg.Length) + msg.Length];
        int o = Varint.Write(frame, (ulong)msg.Length);
        msg.CopyTo(frame, o);
        await stream.WriteAndCloseAsync(frame, ct).ConfigureAwait(false);
    }

    /// <summary>Reads the remote's identify message from a negotiated stream.</summary>
    public static async Task<IdentifyInfo> ReadAsync(Stream stream, CancellationToken ct)
    {
        ulong len;
        try
        {
            len = await MultistreamSelect.ReadVarintAsync(stream, ct).ConfigureAwait(false);
        }
        catch (NegotiationException e)
        {
            throw new DialException(DialErrorClass.Malformed, DialStep.Identify, "identify length: " + e.Message);
        }
        if (len > IdentifyMessage.MaxSize)
        {
            throw new DialException(DialErrorClass.Malformed, DialStep.Identify, $"identify message of {len} bytes exceeds {IdentifyMessage.MaxSize}");
        }
        byte[] buf = ArrayPool<byte>.Shared.Rent((int)len);
        try
        {
            await stream.ReadExactlyAsync(buf.AsMemory(0, (int)len), ct).ConfigureAwait(false);
            if (!IdentifyMessage.TryDecode(buf.AsSpan(0, (int)len), out var info, out _, out var error))
            {
                throw new DialException(DialErrorClass.Malformed, DialStep.Identify, error!);
            }
            return info!;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}

/// <summary>/ipfs/ping/1.0.0: echo 32-byte payloads until the remote closes (ping.md).</summary>
internal static class Ping
{
    public const string ProtocolId = "/ipfs/ping/1.0.0";
    public const int PayloadSize = 32;

    public static async Task HandleAsync(Libp2pStream stream, Libp2pConnection connection, CancellationToken ct)
    {
        byte[] buf = new byte[PayloadSize];
        while (true)
        {
            int got = 0;
            while (got < PayloadSize)
            {
                int n = await stream.ReadAsync(buf.AsMemory(got), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    await stream.CloseWriteAsync(ct).ConfigureAwait(false);
                    return;
                }
                got += n;
            }
            await stream.WriteAsync(buf, ct).ConfigureAwait(false);
        }
    }
}
