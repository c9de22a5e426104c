using System.Buffers;
using System.Runtime.CompilerServices;
using ClP2p.Libp2p.Codecs;

namespace ClP2p.Libp2p.Multistream;

/// <summary>Why a negotiation failed (mapped to a <see cref="DialErrorClass"/> by the caller).</summary>
internal enum NegotiationFailure
{
    None,
    /// <summary>The remote answered "na" to every proposal.</summary>
    NotSupported,
    /// <summary>The remote did not send the multistream header or answered something else.</summary>
    ProtocolViolation,
    /// <summary>Oversized or badly framed message.</summary>
    Malformed,
}

internal sealed class NegotiationException(NegotiationFailure failure, string message) : Exception(message)
{
    public NegotiationFailure Failure { get; } = failure;
}

/// <summary>multistream-select 1.0 over a byte stream, as dialer (<see cref="SelectAsync"/>) or listener (<see cref="HandleAsync"/>).</summary>
internal static class MultistreamSelect
{
    /// <summary>
    /// Proposes <paramref name="protocols"/> in order (header and first proposal in one write), moving to the next
    /// on "na". Returns the accepted protocol; throws <see cref="NegotiationException"/> or an I/O exception.
    /// </summary>
    public static async Task<string> SelectAsync(Stream stream, IReadOnlyList<string> protocols, CancellationToken ct)
    {
        var (accepted, refused) = await TrySelectAsync(stream, protocols, ct).ConfigureAwait(false);
        return accepted ?? throw refused!;
    }

    /// <summary>
    /// <see cref="SelectAsync"/> that returns a refusal of every protocol (an ordinary answer: a node without the
    /// protocols we ask for) as a <see cref="NegotiationFailure.NotSupported"/> exception object instead of throwing it.
    /// Anything else still throws.
    /// </summary>
    public static async Task<(string? Accepted, NegotiationException? Refused)> TrySelectAsync(Stream stream, IReadOnlyList<string> protocols, CancellationToken ct)
    {
        if (protocols.Count == 0)
        {
            throw new ArgumentException("no protocols to propose", nameof(protocols));
        }
        int first = MultistreamCodec.GetEncodedLength(MultistreamCodec.Header) + MultistreamCodec.GetEncodedLength(protocols[0]);
        byte[] buf = ArrayPool<byte>.Shared.Rent(first);
        try
        {
            int o = MultistreamCodec.Encode(MultistreamCodec.Header, buf);
            MultistreamCodec.Encode(protocols[0], buf.AsSpan(o));
            await stream.WriteAsync(buf.AsMemory(0, first), ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
            // the usual answer is what we sent, the header and the proposal echoed: taken in one read where the stream
            // can look ahead; anything else is left unread for the message-by-message reads below
            if (stream is Libp2pStream muxed && await muxed.TryReadExpectedAsync(buf.AsMemory(0, first), ct).ConfigureAwait(false))
            {
                return (protocols[0], null);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        await ExpectHeaderAsync(stream, ct).ConfigureAwait(false);
        for (int i = 0; ; i++)
        {
            if (await ReadAnswerAsync(stream, protocols[i], ct).ConfigureAwait(false))
            {
                return (protocols[i], null);
            }
            if (i + 1 == protocols.Count)
            {
                return (null, new NegotiationException(NegotiationFailure.NotSupported, $"remote refused {string.Join(", ", protocols)}"));
            }
            await WriteAsync(stream, [protocols[i + 1]], ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Lazy (pipelined) selection of one protocol on an outbound stream: the header, the proposal and the protocol's
    /// first bytes (<paramref name="request"/>, may be empty) leave in one write with our write side closed, without
    /// waiting for the echo, which is read afterwards: 0-RTT negotiation for a dialer that proposes a single protocol
    /// (rust-libp2p #1212, its <c>V1Lazy</c>; optimistic multistream-select, libp2p/specs #643). True when the remote
    /// echoed the protocol (the response follows on the stream), false on "na": the remote then reads our request as
    /// its next proposal, so the stream is of no further use and a second proposal goes on a stream of its own (a
    /// second proposal pipelined after the first is unsound, go-multistream #20). Anything else throws.
    /// </summary>
    public static async Task<bool> TrySelectLazyAsync(Libp2pStream stream, string protocol, ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        int negotiation = MultistreamCodec.GetEncodedLength(MultistreamCodec.Header) + MultistreamCodec.GetEncodedLength(protocol);
        byte[] buf = ArrayPool<byte>.Shared.Rent(negotiation + request.Length);
        try
        {
            int o = MultistreamCodec.Encode(MultistreamCodec.Header, buf);
            o += MultistreamCodec.Encode(protocol, buf.AsSpan(o));
            request.Span.CopyTo(buf.AsSpan(o));
            await stream.WriteAndCloseAsync(buf.AsMemory(0, o + request.Length), ct).ConfigureAwait(false);
            // the answer we hope for is what we sent before the request: the header and the protocol echoed
            if (await stream.TryReadExpectedAsync(buf.AsMemory(0, negotiation), ct).ConfigureAwait(false))
            {
                return true;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        await ExpectHeaderAsync(stream, ct).ConfigureAwait(false);
        return await ReadAnswerAsync(stream, protocol, ct).ConfigureAwait(false);
    }

    /// <summary>Our header and the proposal of <paramref name="protocol"/>, encoded: what a lazy selection writes before
    /// the protocol's first bytes (see <see cref="ReadLazyAnswerAsync"/>).</summary>
    public static byte[] EncodeProposal(string protocol)
    {
        var buf = new byte[MultistreamCodec.GetEncodedLength(MultistreamCodec.Header) + MultistreamCodec.GetEncodedLength(protocol)];
        int o = MultistreamCodec.Encode(MultistreamCodec.Header, buf);
        MultistreamCodec.Encode(protocol, buf.AsSpan(o));
        return buf;
    }

    /// <summary>
    /// The answer to a lazy selection of <paramref name="protocol"/> whose proposal (<see cref="EncodeProposal"/>) left
    /// with the protocol's first bytes: the remote's header, then true when it echoed the protocol, false on "na".
    /// Anything else throws <see cref="NegotiationException"/>. Reads message by message, nothing past the answer.
    /// </summary>
    public static async Task<bool> ReadLazyAnswerAsync(Stream stream, string protocol, CancellationToken ct)
    {
        await ExpectHeaderAsync(stream, ct).ConfigureAwait(false);
        return await ReadAnswerAsync(stream, protocol, ct).ConfigureAwait(false);
    }

    /// <summary>Reads the remote's multistream header; anything else is a protocol violation.</summary>
    private static async Task ExpectHeaderAsync(Stream stream, CancellationToken ct)
    {
        string header = await ReadHeaderAsync(stream, ct).ConfigureAwait(false);
        if (header != MultistreamCodec.Header)
        {
            throw new NegotiationException(NegotiationFailure.ProtocolViolation, $"expected multistream header, got '{Truncate(header)}'");
        }
    }

    /// <summary>Reads the answer to <paramref name="proposal"/>: true when echoed, false on "na"; anything else throws.</summary>
    private static async Task<bool> ReadAnswerAsync(Stream stream, string proposal, CancellationToken ct)
    {
        string answer = await ReadMessageAsync(stream, ct).ConfigureAwait(false);
        if (answer == proposal)
        {
            return true;
        }
        if (answer != MultistreamCodec.NotAvailable)
        {
            throw new NegotiationException(NegotiationFailure.ProtocolViolation, $"proposed '{proposal}', got '{Truncate(answer)}'");
        }
        return false;
    }

    /// <summary>
    /// Listener side: writes the header, requires the remote's header first, answers "na" to unsupported
    /// proposals (and to "ls"), echoes the first supported one and returns it. With <paramref name="headerWithAnswer"/>
    /// our header waits for the remote's first proposal and leaves in one write with the answer to it, as rust-libp2p's
    /// listener does (rust-libp2p #1212): every dialer sends its header and first proposal without waiting for ours.
    /// </summary>
    public static async Task<string> HandleAsync(Stream stream, Func<string, bool> supported, CancellationToken ct, bool headerWithAnswer = false)
    {
        if (!headerWithAnswer)
        {
            await WriteAsync(stream, [MultistreamCodec.Header], ct).ConfigureAwait(false);
        }
        await ExpectHeaderAsync(stream, ct).ConfigureAwait(false);
        for (int attempts = 0; attempts < MaxProposals; attempts++)
        {
            string proposal = await ReadMessageAsync(stream, ct).ConfigureAwait(false);
            bool accepted = proposal != MultistreamCodec.List && proposal != MultistreamCodec.NotAvailable && supported(proposal);
            string answer = accepted ? proposal : MultistreamCodec.NotAvailable;
            await WriteAsync(stream, headerWithAnswer && attempts == 0 ? [MultistreamCodec.Header, answer] : [answer], ct).ConfigureAwait(false);
            if (accepted)
            {
                return proposal;
            }
        }
        throw new NegotiationException(NegotiationFailure.ProtocolViolation, "too many proposals");
    }

    /// <summary>A remote gets this many proposals before the listener gives up.</summary>
    public const int MaxProposals = 32;

    public static async Task WriteAsync(Stream stream, string[] messages, CancellationToken ct)
    {
        int len = 0;
        foreach (var m in messages)
        {
            len += MultistreamCodec.GetEncodedLength(m);
        }
        byte[] buf = ArrayPool<byte>.Shared.Rent(len);
        try
        {
            int o = 0;
            foreach (var m in messages)
            {
                o += MultistreamCodec.Encode(m, buf.AsSpan(o));
            }
            await stream.WriteAsync(buf.AsMemory(0, o), ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    /// <summary>
    /// Reads the first message, which must be the header: a length other than the header's is rejected at once
    /// instead of waiting for bytes a non-libp2p peer will never send.
    /// </summary>
    public static async Task<string> ReadHeaderAsync(Stream stream, CancellationToken ct)
    {
        ulong len = await ReadVarintAsync(stream, ct).ConfigureAwait(false);
        int expected = MultistreamCodec.Header.Length + 1;
        if (len > MultistreamCodec.MaxMessageLength)
        {
            throw new NegotiationException(NegotiationFailure.Malformed, $"multistream message of {len} bytes exceeds {MultistreamCodec.MaxMessageLength}");
        }
        if (len != (ulong)expected)
        {
            throw new NegotiationException(NegotiationFailure.ProtocolViolation, $"first message of {len} bytes is not the multistream header");
        }
        return await ReadBodyAsync(stream, expected, ct).ConfigureAwait(false);
    }

    /// <summary>Reads one message without reading past it (the bytes after belong to the negotiated protocol).</summary>
    public static async Task<string> ReadMessageAsync(Stream stream, CancellationToken ct)
    {
        ulong len = await ReadVarintAsync(stream, ct).ConfigureAwait(false);
        if (len > MultistreamCodec.MaxMessageLength)
        {
            throw new NegotiationException(NegotiationFailure.Malformed, $"multistream message of {len} bytes exceeds {MultistreamCodec.MaxMessageLength}");
        }
        return await ReadBodyAsync(stream, (int)len, ct).ConfigureAwait(false);
    }

    private static async Task<string> ReadBodyAsync(Stream stream, int len, CancellationToken ct)
    {
        byte[] buf = ArrayPool<byte>.Shared.Rent(len);
        try
        {
            await stream.ReadExactlyAsync(buf.AsMemory(0, len), ct).ConfigureAwait(false);
            if (!MultistreamCodec.TryDecodeBody(buf.AsSpan(0, len), out string message, out string? error))
            {
                throw new NegotiationException(NegotiationFailure.Malformed, error!);
            }
            return message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    /// <summary>Reads a uvarint one byte at a time; EOF gives <see cref="EndOfStreamException"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<ulong> ReadVarintAsync(Stream stream, CancellationToken ct)
    {
        byte[] one = ArrayPool<byte>.Shared.Rent(Varint.MaxLength);
        try
        {
            for (int i = 0; i < Varint.MaxLength; i++)
            {
                await stream.ReadExactlyAsync(one.AsMemory(i, 1), ct).ConfigureAwait(false);
                if ((one[i] & 0x80) == 0)
                {
                    if (Varint.TryRead(one.AsSpan(0, i + 1), Varint.MaxLength, out ulong v, out _) != VarintStatus.Ok)
                    {
                        throw new NegotiationException(NegotiationFailure.Malformed, "non-minimal varint");
                    }
                    return v;
                }
            }
            throw new NegotiationException(NegotiationFailure.Malformed, "varint longer than 9 bytes");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(one);
        }
    }

    private static string Truncate(string s) => s.Length > 64 ? s[..64] + "…" : s;
}
