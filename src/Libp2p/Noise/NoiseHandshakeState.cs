using System.Security.Cryptography;

namespace ClP2p.Libp2p.Noise;

/// <summary>An X25519 key pair for Noise (static or ephemeral).</summary>
public sealed class X25519KeyPair : IDisposable
{
    private readonly byte[] _private;

    private X25519KeyPair(byte[] privateKey)
    {
        _private = privateKey;
        PublicKey = new byte[X25519.KeySize];
        X25519.PublicKey(_private, PublicKey);
    }

    internal ReadOnlySpan<byte> PrivateKey => _private;

    public byte[] PublicKey { get; }

    public static X25519KeyPair Generate() => new(RandomNumberGenerator.GetBytes(X25519.KeySize));

    public static X25519KeyPair FromPrivateKey(ReadOnlySpan<byte> private32)
    {
        if (private32.Length != X25519.KeySize)
        {
            throw new ArgumentException("an X25519 private key is 32 bytes", nameof(private32));
        }
        return new(private32.ToArray());
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_private);
}

/// <summary>
/// Noise_XX_25519_ChaChaPoly_SHA256 HandshakeState (noise-protocol-framework.md §5.3, pattern XX):
/// <c>-> e</c>, <c>&lt;- e, ee, s, es</c>, <c>-> s, se</c>. Pure: bytes in, bytes out; the ephemeral key can be injected.
/// </summary>
internal sealed class NoiseHandshakeState : IDisposable
{
    /// <summary>The protocol name is exactly 32 bytes, so h = the name itself (§5.2 InitializeSymmetric).</summary>
    public static ReadOnlySpan<byte> ProtocolName => "Noise_XX_25519_ChaChaPoly_SHA256"u8;

    public const int DhLen = 32;
    /// <summary>"Noise messages ... must be at most 65535 bytes" (§3).</summary>
    public const int MaxMessageLength = 65535;

    private readonly bool _initiator;
    private readonly X25519KeyPair _s;
    private readonly Func<X25519KeyPair> _ephemeralFactory;
    private readonly byte[] _ck = new byte[32];
    private readonly byte[] _h = new byte[32];
    private readonly CipherState _cipher = new();
    private X25519KeyPair? _e;
    private byte[]? _re;
    private byte[]? _rs;
    private int _step;

    public NoiseHandshakeState(bool initiator, X25519KeyPair staticKey, ReadOnlySpan<byte> prologue, Func<X25519KeyPair>? ephemeralFactory = null)
    {
        _initiator = initiator;
        _s = staticKey;
        _ephemeralFactory = ephemeralFactory ?? X25519KeyPair.Generate;
        ProtocolName.CopyTo(_h);
        _h.CopyTo(_ck, 0);
        MixHash(prologue);
    }

    public bool IsInitiator => _initiator;

    /// <summary>Number of handshake messages processed so far (0..3).</summary>
    public int Step => _step;

    /// <summary>The remote's static X25519 key, once received.</summary>
    public ReadOnlySpan<byte> RemoteStaticKey => _rs;

    public ReadOnlySpan<byte> HandshakeHash => _h;

    public bool IsComplete => _step == 3;

    /// <summary>True when the next message is ours to write.</summary>
    public bool IsMyTurn => (_step % 2 == 0) == _initiator;

    /// <summary>Bytes a handshake message adds to its payload at most.</summary>
    public static int MaxOverhead => DhLen + CipherState.TagSize + DhLen + CipherState.TagSize;

    /// <summary>Writes the next handshake message into <paramref name="output"/> and returns its length.</summary>
    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> output)
    {
        if (!IsMyTurn || IsComplete)
        {
            throw new InvalidOperationException("not our turn to write");
        }
        int o = 0;
        switch (_step)
        {
            case 0: // -> e
                _e = _ephemeralFactory();
                _e.PublicKey.CopyTo(output);
                MixHash(_e.PublicKey);
                o = DhLen;
                break;
            case 1: // <- e, ee, s, es
                _e = _ephemeralFactory();
                _e.PublicKey.CopyTo(output);
                MixHash(_e.PublicKey);
                o = DhLen;
                MixKey(Dh(_e, _re!));
                o += EncryptAndHash(_s.PublicKey, output[o..]);
                MixKey(Dh(_s, _re!)); // es (responder): DH(s, re)
                break;
            case 2: // -> s, se
                o = EncryptAndHash(_s.PublicKey, output);
                MixKey(Dh(_s, _re!));
                break;
        }
        o += EncryptAndHash(payload, output[o..]);
        _step++;
        return o;
    }

    /// <summary>Reads the remote's next message; false when it is truncated or fails to decrypt.</summary>
    public bool TryReadMessage(ReadOnlySpan<byte> message, Span<byte> payloadOutput, out int payloadLength)
    {
        payloadLength = 0;
        if (IsMyTurn || IsComplete)
        {
            return false;
        }
        int o = 0;
        switch (_step)
        {
            case 0: // -> e (responder reads)
                if (message.Length < DhLen)
                {
                    return false;
                }
                _re = message[..DhLen].ToArray();
                MixHash(_re);
                o = DhLen;
                break;
            case 1: // <- e, ee, s, es (initiator reads)
            {
                if (message.Length < DhLen + DhLen + CipherState.TagSize)
                {
                    return false;
                }
                _re = message[..DhLen].ToArray();
                MixHash(_re);
                o = DhLen;
                if (!TryMix(Dh(_e!, _re)))
                {
                    return false;
                }
                Span<byte> rs = stackalloc byte[DhLen];
                if (!DecryptAndHash(message.Slice(o, DhLen + CipherState.TagSize), rs, out _))
                {
                    return false;
                }
                _rs = rs.ToArray();
                o += DhLen + CipherState.TagSize;
                if (!TryMix(Dh(_e!, _rs))) // es (initiator): DH(e, rs)
                {
                    return false;
                }
                break;
            }
            case 2: // -> s, se (responder reads)
            {
                if (message.Length < DhLen + CipherState.TagSize + CipherState.TagSize)
                {
                    return false;
                }
                Span<byte> rs = stackalloc byte[DhLen];
                if (!DecryptAndHash(message[..(DhLen + CipherState.TagSize)], rs, out _))
                {
                    return false;
                }
                _rs = rs.ToArray();
                o = DhLen + CipherState.TagSize;
                if (!TryMix(Dh(_e!, _rs))) // se (responder): DH(e, rs)
                {
                    return false;
                }
                break;
            }
        }
        if (!DecryptAndHash(message[o..], payloadOutput, out payloadLength))
        {
            return false;
        }
        _step++;
        return true;
    }

    /// <summary>Split (§5.2): returns (initiator→responder, responder→initiator) cipher states.</summary>
    public (CipherState InitiatorToResponder, CipherState ResponderToInitiator) Split()
    {
        if (!IsComplete)
        {
            throw new InvalidOperationException("handshake not complete");
        }
        Span<byte> okm = stackalloc byte[64];
        Hkdf(_ck, ReadOnlySpan<byte>.Empty, okm);
        var initiatorToResponder = new CipherState();
        var responderToInitiator = new CipherState();
        initiatorToResponder.InitializeKey(okm[..32]);
        responderToInitiator.InitializeKey(okm[32..]);
        CryptographicOperations.ZeroMemory(okm);
        return (initiatorToResponder, responderToInitiator);
    }

    /// <summary>Exposes split keys for vector tests.</summary>
    internal (byte[] K1, byte[] K2) SplitKeysForTest()
    {
        var okm = new byte[64];
        Hkdf(_ck, ReadOnlySpan<byte>.Empty, okm);
        return (okm[..32], okm[32..]);
    }

    private static byte[]? Dh(X25519KeyPair local, byte[] remotePublic)
    {
        var shared = new byte[X25519.KeySize];
        return X25519.TryAgree(local.PrivateKey, remotePublic, shared) ? shared : null;
    }

    private bool TryMix(byte[]? dh)
    {
        if (dh is null)
        {
            return false;
        }
        MixKey(dh);
        return true;
    }

    private void MixKey(byte[]? ikm)
    {
        if (ikm is null)
        {
            throw new CryptographicException("X25519 agreement failed");
        }
        Span<byte> okm = stackalloc byte[64];
        Hkdf(_ck, ikm, okm);
        okm[..32].CopyTo(_ck);
        _cipher.InitializeKey(okm[32..]);
        CryptographicOperations.ZeroMemory(okm);
        CryptographicOperations.ZeroMemory(ikm);
    }

    /// <summary>
    /// Noise HKDF (§4.3) with two outputs: temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01); out2 = HMAC(temp, out1 || 0x02).
    /// (Written out because the platform HKDF rejects the empty ikm that Split uses.)
    /// </summary>
    internal static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> ikm, Span<byte> output64)
    {
        Span<byte> temp = stackalloc byte[32];
        HMACSHA256.HashData(chainingKey, ikm, temp);
        Span<byte> input = stackalloc byte[33];
        input[0] = 1;
        HMACSHA256.HashData(temp, input[..1], output64[..32]);
        output64[..32].CopyTo(input);
        input[32] = 2;
        HMACSHA256.HashData(temp, input, output64[32..64]);
        CryptographicOperations.ZeroMemory(temp);
    }

    private void MixHash(ReadOnlySpan<byte> data)
    {
        // h = SHA-256(h || data), without an incremental hash object per call.
        int n = _h.Length + data.Length;
        byte[]? rented = null;
        Span<byte> buf = n <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(n));
        _h.CopyTo(buf);
        data.CopyTo(buf[_h.Length..]);
        SHA256.HashData(buf[..n], _h);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        int n = _cipher.EncryptWithAd(_h, plaintext, output);
        MixHash(output[..n]);
        return n;
    }

    private bool DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written)
    {
        if (output.Length < ciphertext.Length - (_cipher.HasKey ? CipherState.TagSize : 0))
        {
            written = 0;
            return false;
        }
        if (!_cipher.TryDecryptWithAd(_h, ciphertext, output, out written))
        {
            return false;
        }
        MixHash(ciphertext);
        return true;
    }

    public void Dispose()
    {
        _cipher.Dispose();
        _e?.Dispose();
    }
}
