using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using ClP2p.Libp2p.Crypto;

namespace ClP2p.Libp2p.Noise;

/// <summary>
/// Our side of noise-libp2p: a static X25519 key (separate from the identity key) and the handshake payload that
/// signs it. Built once per host and reused for every connection.
/// </summary>
public sealed class NoiseLocalIdentity : IDisposable
{
    public NoiseLocalIdentity(Identity identity, X25519KeyPair? staticKey = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Identity = identity;
        StaticKey = staticKey ?? X25519KeyPair.Generate();
        byte[] sig = identity.Sign(NoisePayload.SignedMessage(StaticKey.PublicKey));
        Payload = new NoisePayload(identity.PublicKey.ToProtobuf(), sig).Encode();
    }

    public Identity Identity { get; }

    public X25519KeyPair StaticKey { get; }

    /// <summary>The encoded NoiseHandshakePayload we send.</summary>
    public byte[] Payload { get; }

    public void Dispose() => StaticKey.Dispose();
}

/// <summary>Runs the noise-libp2p XX handshake over a raw stream and returns the secure stream.</summary>
internal static class NoiseSecurity
{
    public const string ProtocolId = "/noise";

    /// <summary>
    /// With <paramref name="holdLastMessage"/>, a last handshake message of ours (the initiator's message 3) is not
    /// written here: it leaves with the secure stream's first write, in one TCP write, as it would leave right before
    /// that write anyway (the initiator sends its first transport message without waiting, noise.md "Handshake").
    /// </summary>
    /// <param name="inner">The transport; a <see cref="Transport.ReadAheadStream"/> is unwrapped for the secure stream,
    /// which gets the bytes it read past the handshake.</param>
    /// <param name="firstWritePrefix">Bytes that leave in one write with our first message (a lazy multistream-select
    /// of <c>/noise</c>: header and proposal, then message 1).</param>
    /// <param name="beforeFirstRead">Runs once before the remote's first message is read (there: the multistream echo).</param>
    public static async Task<(NoiseStream Stream, PublicKey RemoteKey)> HandshakeAsync(
        Stream inner, bool initiator, NoiseLocalIdentity local, CancellationToken ct, Func<X25519KeyPair>? ephemeralFactory = null, bool holdLastMessage = false,
        ReadOnlyMemory<byte> firstWritePrefix = default, Func<CancellationToken, Task>? beforeFirstRead = null)
    {
        using var handshake = new NoiseHandshakeState(initiator, local.StaticKey, ReadOnlySpan<byte>.Empty, ephemeralFactory);
        // Sized for the messages at hand (a few hundred bytes) and grown only for a larger one: 64 KB buffers per
        // handshake, thousands at once, came fresh from the large-object heap as soon as the pool ran dry.
        byte[] frame = ArrayPool<byte>.Shared.Rent(2 + MaxOwnMessageLength(local));
        byte[] payload = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            PublicKey? remoteKey = null;
            byte[]? held = null;
            while (!handshake.IsComplete)
            {
                if (handshake.IsMyTurn)
                {
                    // Message 1 carries no payload; messages 2 and 3 carry our identity.
                    ReadOnlySpan<byte> outgoingPayload = handshake.Step == 0 ? ReadOnlySpan<byte>.Empty : local.Payload;
                    int messageLength = handshake.WriteMessage(outgoingPayload, frame.AsSpan(2));
                    BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)messageLength);
                    if (holdLastMessage && handshake.IsComplete)
                    {
                        held = frame.AsSpan(0, 2 + messageLength).ToArray();
                        break;
                    }
                    if (!firstWritePrefix.IsEmpty)
                    {
                        await WriteWithPrefixAsync(inner, firstWritePrefix, frame.AsMemory(0, 2 + messageLength), ct).ConfigureAwait(false);
                        firstWritePrefix = default;
                    }
                    else
                    {
                        await inner.WriteAsync(frame.AsMemory(0, 2 + messageLength), ct).ConfigureAwait(false);
                    }
                    await inner.FlushAsync(ct).ConfigureAwait(false);
                }
                else
                {
                    if (beforeFirstRead is { } before)
                    {
                        beforeFirstRead = null;
                        await before(ct).ConfigureAwait(false);
                    }
                    await inner.ReadExactlyAsync(frame.AsMemory(0, 2), ct).ConfigureAwait(false);
                    int messageLength = BinaryPrimitives.ReadUInt16BigEndian(frame);
                    Grow(ref frame, messageLength);
                    Grow(ref payload, messageLength);
                    await inner.ReadExactlyAsync(frame.AsMemory(0, messageLength), ct).ConfigureAwait(false);
                    bool carriesIdentity = handshake.Step > 0;
                    if (!handshake.TryReadMessage(frame.AsSpan(0, messageLength), payload, out int payloadLength))
                    {
                        throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, "handshake message failed to decrypt or was truncated");
                    }
                    if (carriesIdentity)
                    {
                        remoteKey = VerifyPayload(payload.AsSpan(0, payloadLength), handshake.RemoteStaticKey);
                    }
                }
            }
            if (remoteKey is null)
            {
                throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, "no remote identity");
            }
            var (initiatorToResponder, responderToInitiator) = handshake.Split();
            // the transport itself under the secure stream, with what was read past the handshake
            Stream transport = inner;
            byte[] received = [];
            if (inner is Transport.ReadAheadStream ahead)
            {
                transport = ahead.Inner;
                received = ahead.TakeBuffered();
            }
            var stream = initiator
                ? new NoiseStream(transport, initiatorToResponder, responderToInitiator, held, received)
                : new NoiseStream(transport, responderToInitiator, initiatorToResponder, held, received);
            return (stream, remoteKey);
        }
        catch (CryptographicException e)
        {
            throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, e.Message, e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    private static async Task WriteWithPrefixAsync(Stream inner, ReadOnlyMemory<byte> prefix, ReadOnlyMemory<byte> message, CancellationToken ct)
    {
        byte[] both = ArrayPool<byte>.Shared.Rent(prefix.Length + message.Length);
        try
        {
            prefix.CopyTo(both);
            message.CopyTo(both.AsMemory(prefix.Length));
            await inner.WriteAsync(both.AsMemory(0, prefix.Length + message.Length), ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(both);
        }
    }

    /// <summary>Our longest handshake message: ephemeral key, encrypted static key and encrypted payload (noise.md
    /// "Handshake").</summary>
    private static int MaxOwnMessageLength(NoiseLocalIdentity local) =>
        X25519.KeySize + X25519.KeySize + CipherState.TagSize + local.Payload.Length + CipherState.TagSize;

    private static void Grow(ref byte[] buffer, int length)
    {
        if (buffer.Length >= length)
        {
            return;
        }
        var larger = ArrayPool<byte>.Shared.Rent(length);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = larger;
    }

    /// <summary>Decodes the remote payload and verifies identity_sig over "noise-libp2p-static-key:" || remote static key.</summary>
    internal static PublicKey VerifyPayload(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> remoteStatic)
    {
        if (!NoisePayload.TryDecode(payload, out var p, out var error))
        {
            throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, error!);
        }
        if (!PublicKey.TryDecode(p!.IdentityKey, out var key, out error))
        {
            throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, "bad identity_key: " + error);
        }
        if (!key!.Verify(NoisePayload.SignedMessage(remoteStatic), p.IdentitySignature))
        {
            throw new DialException(DialErrorClass.NoiseFailure, DialStep.NoiseHandshake, "identity_sig does not verify");
        }
        return key;
    }
}
