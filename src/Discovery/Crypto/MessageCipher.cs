using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace ClP2p.Discovery.Crypto;

/// <summary>
/// AES-128-GCM with 12-byte nonces and 16-byte tags: a session key's cipher for discv5 messages (discv5-wire.md
/// "Encrypting Messages": aesgcm_encrypt(key, nonce, message, message-ad)), used by the handler shard of its session.
/// </summary>
/// <remarks>
/// Every discv5 message is one short packet, and the platform's <see cref="AesGcm"/> spends more on each call (a native
/// context reset, several calls into OpenSSL, each clearing its error queue) than on the few hundred bytes it
/// encrypts: 2.4 µs to seal and open 1,100 bytes against 1.0 µs here, about 4 % of a simulated 20,000-record crawl's CPU
/// against 2 % here (docs/performance.md, "Session keys in managed AES-GCM"). With the CPU's AES and carry-less
/// multiply instructions, the counter-mode key stream and GHASH (NIST SP 800-38D, sections 6.4 and 7) are computed
/// here, in registers, four blocks at a time; the GHASH multiplication is the bit-reflected carry-less multiply and
/// reduction of Gueron and Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM
/// Mode" (rev. 2.02, Algorithms 1 and 5), with one reduction per four blocks. Without those instructions the
/// platform's <see cref="AesGcm"/> does the work.
/// </remarks>
public sealed class MessageCipher : IDisposable
{
    public const int KeySize = 16;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>True when this machine's instructions are used instead of the platform's AES-GCM.</summary>
    public static bool Accelerated => HeaderMask.Accelerated && Pclmulqdq.IsSupported && Ssse3.IsSupported && Sse41.IsSupported;

    private readonly HeaderMask.RoundKeys _keys;
    // the hash key H = AES_K(0^128) and its powers H^2..H^4, byte-reversed as the multiplication takes its operands
    private readonly Vector128<byte> _h, _h2, _h3, _h4;
    private readonly AesGcm? _platform;

    public MessageCipher(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize) throw new ArgumentException($"an AES-128 key is {KeySize} bytes, not {key.Length}", nameof(key));
        if (!Accelerated)
        {
            _platform = new AesGcm(key, TagSize);
            return;
        }
        _keys = new HeaderMask.RoundKeys(key);
        _h = Reverse(_keys.Encrypt(Vector128<byte>.Zero));
        _h2 = Multiply(_h, _h);
        _h3 = Multiply(_h2, _h);
        _h4 = Multiply(_h3, _h);
    }

    /// <summary>Encrypts plaintext into ciphertext (the same length; the same span or one that does not overlap it)
    /// and writes the tag over plaintext, nonce and associated data.</summary>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData = default)
    {
        Check(nonce, plaintext, ciphertext, tag.Length);
        if (_platform is not null)
        {
            _platform.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
            return;
        }
        var j0 = CounterBlock(nonce);
        var x = Absorb(Vector128<byte>.Zero, associatedData);
        Transform(j0, plaintext, ciphertext);
        x = Absorb(x, ciphertext);
        Tag(j0, x, associatedData.Length, ciphertext.Length).CopyTo(tag);
    }

    /// <summary>Checks the tag over ciphertext, nonce and associated data and, when it holds, decrypts ciphertext
    /// into plaintext (the same length; the same span or one that does not overlap it). False, and plaintext left
    /// untouched, when it does not.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData = default)
    {
        Check(nonce, ciphertext, plaintext, tag.Length);
        if (_platform is not null)
        {
            try
            {
                _platform.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }
        var j0 = CounterBlock(nonce);
        var x = Absorb(Vector128<byte>.Zero, associatedData);
        x = Absorb(x, ciphertext);
        Span<byte> expected = stackalloc byte[TagSize];
        Tag(j0, x, associatedData.Length, ciphertext.Length).CopyTo(expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, tag)) return false;
        Transform(j0, ciphertext, plaintext);
        return true;
    }

    public void Dispose() => _platform?.Dispose();

    private static void Check(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, int tagLength)
    {
        if (nonce.Length != NonceSize) throw new ArgumentException($"a {NonceSize}-byte nonce, not {nonce.Length}", nameof(nonce));
        if (tagLength != TagSize) throw new ArgumentException($"a {TagSize}-byte tag, not {tagLength}");
        if (input.Length != output.Length) throw new ArgumentException("input and output differ in length");
        if (input.Overlaps(output, out int offset) && offset != 0) throw new ArgumentException("input and output overlap at different offsets");
    }

    private static readonly Vector128<byte> ReverseMask = Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Reverse(Vector128<byte> v) => Ssse3.Shuffle(v, ReverseMask);

    /// <summary>J0 = nonce || 0^31 || 1 (SP 800-38D 7.1 step 2, for a 96-bit IV).</summary>
    private static Vector128<byte> CounterBlock(ReadOnlySpan<byte> nonce)
    {
        Span<byte> j0 = stackalloc byte[16];
        nonce.CopyTo(j0);
        BinaryPrimitives.WriteUInt32BigEndian(j0[12..], 1);
        return Vector128.Create((ReadOnlySpan<byte>)j0);
    }

    /// <summary>J0 with its last 32 bits (big-endian) set to counter: inc32 applied counter - 1 times.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> WithCounter(Vector128<byte> j0, uint counter) =>
        Sse41.Insert(j0.AsUInt32(), BinaryPrimitives.ReverseEndianness(counter), 3).AsByte();

    /// <summary>GCTR from inc32(J0) (SP 800-38D 6.5, 7.1 step 3): output = input XOR the key stream.</summary>
    private void Transform(Vector128<byte> j0, ReadOnlySpan<byte> input, Span<byte> output)
    {
        ref byte src = ref MemoryMarshal.GetReference(input);
        ref byte dst = ref MemoryMarshal.GetReference(output);
        int length = input.Length;
        int o = 0;
        uint counter = 2;
        for (; o + 64 <= length; o += 64, counter += 4)
        {
            var k0 = WithCounter(j0, counter);
            var k1 = WithCounter(j0, counter + 1);
            var k2 = WithCounter(j0, counter + 2);
            var k3 = WithCounter(j0, counter + 3);
            _keys.Encrypt4(ref k0, ref k1, ref k2, ref k3);
            // all four loads before the first store: an output that is the input itself is read before it is written
            var p0 = Vector128.LoadUnsafe(ref src, (nuint)o);
            var p1 = Vector128.LoadUnsafe(ref src, (nuint)(o + 16));
            var p2 = Vector128.LoadUnsafe(ref src, (nuint)(o + 32));
            var p3 = Vector128.LoadUnsafe(ref src, (nuint)(o + 48));
            (p0 ^ k0).StoreUnsafe(ref dst, (nuint)o);
            (p1 ^ k1).StoreUnsafe(ref dst, (nuint)(o + 16));
            (p2 ^ k2).StoreUnsafe(ref dst, (nuint)(o + 32));
            (p3 ^ k3).StoreUnsafe(ref dst, (nuint)(o + 48));
        }
        for (; o + 16 <= length; o += 16, counter++)
        {
            var k = _keys.Encrypt(WithCounter(j0, counter));
            (Vector128.LoadUnsafe(ref src, (nuint)o) ^ k).StoreUnsafe(ref dst, (nuint)o);
        }
        if (o < length)
        {
            Span<byte> last = stackalloc byte[16];
            int n = length - o;
            input[o..].CopyTo(last);
            (Vector128.Create((ReadOnlySpan<byte>)last) ^ _keys.Encrypt(WithCounter(j0, counter))).CopyTo(last);
            last[..n].CopyTo(output[o..]);
        }
    }

    /// <summary>GHASH over data, zero-padded to whole blocks (SP 800-38D 6.4, 7.1 steps 5-6), continuing from x (kept
    /// byte-reversed).</summary>
    private Vector128<byte> Absorb(Vector128<byte> x, ReadOnlySpan<byte> data)
    {
        ref byte src = ref MemoryMarshal.GetReference(data);
        int o = 0;
        // four blocks a step: X' = (X ^ C1)·H^4 ^ C2·H^3 ^ C3·H^2 ^ C4·H, the four products independent of each other
        // and summed before the one shift and reduction (Gueron and Kounavis, Algorithm 5 with aggregated reduction)
        for (; o + 64 <= data.Length; o += 64)
        {
            var c1 = x ^ Reverse(Vector128.LoadUnsafe(ref src, (nuint)o));
            var c2 = Reverse(Vector128.LoadUnsafe(ref src, (nuint)(o + 16)));
            var c3 = Reverse(Vector128.LoadUnsafe(ref src, (nuint)(o + 32)));
            var c4 = Reverse(Vector128.LoadUnsafe(ref src, (nuint)(o + 48)));
            Product(c1, _h4, out var lo, out var hi);
            Product(c2, _h3, out var lo2, out var hi2);
            Product(c3, _h2, out var lo3, out var hi3);
            Product(c4, _h, out var lo4, out var hi4);
            x = Reduce(Sse2.Xor(Sse2.Xor(lo, lo2), Sse2.Xor(lo3, lo4)), Sse2.Xor(Sse2.Xor(hi, hi2), Sse2.Xor(hi3, hi4)));
        }
        for (; o + 16 <= data.Length; o += 16) x = Multiply(x ^ Reverse(Vector128.LoadUnsafe(ref src, (nuint)o)), _h);
        if (o < data.Length)
        {
            Span<byte> last = stackalloc byte[16];
            last.Clear();
            data[o..].CopyTo(last);
            x = Multiply(x ^ Reverse(Vector128.Create((ReadOnlySpan<byte>)last)), _h);
        }
        return x;
    }

    /// <summary>T = AES_K(J0) XOR GHASH(... || len(A) || len(C)) (SP 800-38D 7.1 steps 5-6, lengths in bits).</summary>
    private Vector128<byte> Tag(Vector128<byte> j0, Vector128<byte> x, int associatedLength, int textLength)
    {
        // the length block [len(A)]64 || [len(C)]64, big-endian, byte-reversed: len(C) in the low half, len(A) in the high
        var lengths = Vector128.Create((ulong)textLength * 8, (ulong)associatedLength * 8).AsByte();
        x = Multiply(x ^ lengths, _h);
        return Reverse(x) ^ _keys.Encrypt(j0);
    }

    /// <summary>
    /// a · b in GF(2^128) with GCM's polynomial x^128 + x^7 + x^2 + x + 1, on byte-reversed operands: the 256-bit
    /// carry-less product (four multiplies), shifted left one bit for the reflected bit order, then reduced (Gueron and
    /// Kounavis, Algorithm 1 for the product and Algorithm 5 for the shift and reduction).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Multiply(Vector128<byte> a, Vector128<byte> b)
    {
        Product(a, b, out var lo, out var hi);
        return Reduce(lo, hi);
    }

    /// <summary>The 256-bit carry-less product hi:lo of a and b. Products of several pairs may be XORed together
    /// and reduced once: the shift and the reduction are linear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Product(Vector128<byte> a, Vector128<byte> b, out Vector128<uint> lo, out Vector128<uint> hi)
    {
        var a64 = a.AsUInt64();
        var b64 = b.AsUInt64();
        lo = Pclmulqdq.CarrylessMultiply(a64, b64, 0x00).AsUInt32();
        var mid = Sse2.Xor(Pclmulqdq.CarrylessMultiply(a64, b64, 0x10), Pclmulqdq.CarrylessMultiply(a64, b64, 0x01)).AsUInt32();
        hi = Pclmulqdq.CarrylessMultiply(a64, b64, 0x11).AsUInt32();
        lo = Sse2.Xor(lo, Sse2.ShiftLeftLogical128BitLane(mid, 8));
        hi = Sse2.Xor(hi, Sse2.ShiftRightLogical128BitLane(mid, 8));
    }

    /// <summary>hi:lo shifted left one bit (the reflected bit order) and reduced modulo GCM's polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Reduce(Vector128<uint> lo, Vector128<uint> hi)
    {
        // hi:lo <<= 1
        var carryLo = Sse2.ShiftRightLogical(lo, 31);
        var carryHi = Sse2.ShiftRightLogical(hi, 31);
        lo = Sse2.ShiftLeftLogical(lo, 1);
        hi = Sse2.ShiftLeftLogical(hi, 1);
        var across = Sse2.ShiftRightLogical128BitLane(carryLo, 12);
        carryHi = Sse2.ShiftLeftLogical128BitLane(carryHi, 4);
        carryLo = Sse2.ShiftLeftLogical128BitLane(carryLo, 4);
        lo = Sse2.Or(lo, carryLo);
        hi = Sse2.Or(hi, carryHi);
        hi = Sse2.Or(hi, across);

        // reduction, first phase
        var t = Sse2.Xor(Sse2.Xor(Sse2.ShiftLeftLogical(lo, 31), Sse2.ShiftLeftLogical(lo, 30)), Sse2.ShiftLeftLogical(lo, 25));
        var spill = Sse2.ShiftRightLogical128BitLane(t, 4);
        t = Sse2.ShiftLeftLogical128BitLane(t, 12);
        lo = Sse2.Xor(lo, t);
        // second phase
        var u = Sse2.Xor(Sse2.Xor(Sse2.ShiftRightLogical(lo, 1), Sse2.ShiftRightLogical(lo, 2)), Sse2.ShiftRightLogical(lo, 7));
        u = Sse2.Xor(u, spill);
        lo = Sse2.Xor(lo, u);
        return Sse2.Xor(hi, lo).AsByte();
    }
}
