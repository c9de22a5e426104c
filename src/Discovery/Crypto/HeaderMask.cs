using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace ClP2p.Discovery.Crypto;

/// <summary>
/// AES-128-CTR for discv5 header masking (discv5-wire.md "Packet Encoding": masking-key = dest-id[:16], masking-iv the
/// packet's first 16 bytes). Every packet we send is masked with its destination's key, a new key per remote, so a
/// cipher object per packet (an OpenSSL context, its key copy and handles) cost more than the few blocks it encrypts.
/// With the CPU's AES instructions the key schedule is expanded on the stack and the blocks encrypted in registers;
/// without them the platform's AES does the same work (<see cref="AesCtr"/>).
/// </summary>
public static class HeaderMask
{
    /// <summary>True when the AES instructions are used (x86 AES-NI).</summary>
    public static bool Accelerated => X86Aes.IsSupported && Sse2.IsSupported;

    /// <summary>XORs data in place with the AES-128-CTR key stream of key16 from counter block iv16 (+ firstBlock).</summary>
    public static void Apply(ReadOnlySpan<byte> key16, ReadOnlySpan<byte> iv16, Span<byte> data, int firstBlock = 0)
    {
        if (key16.Length < 16 || iv16.Length < 16) throw new ArgumentException("a 16-byte key and counter block");
        if (!Accelerated)
        {
            using var ctr = new AesCtr(key16[..16]);
            ctr.Transform(iv16, data, firstBlock);
            return;
        }
        var keys = new RoundKeys(key16);
        keys.Apply(iv16, data, firstBlock);
    }

    /// <summary>The expanded AES-128 key (11 round keys), for a key used on many packets (our own id, to unmask).</summary>
    [InlineArray(11)]
    public struct RoundKeys
    {
        private Vector128<byte> _k;

        public RoundKeys(ReadOnlySpan<byte> key16)
        {
            if (!Accelerated) throw new PlatformNotSupportedException("AES instructions are not available");
            var k = Vector128.Create(key16[..16]);
            this[0] = k;
            this[1] = k = Expand(k, X86Aes.KeygenAssist(k, 0x01));
            this[2] = k = Expand(k, X86Aes.KeygenAssist(k, 0x02));
            this[3] = k = Expand(k, X86Aes.KeygenAssist(k, 0x04));
            this[4] = k = Expand(k, X86Aes.KeygenAssist(k, 0x08));
            this[5] = k = Expand(k, X86Aes.KeygenAssist(k, 0x10));
            this[6] = k = Expand(k, X86Aes.KeygenAssist(k, 0x20));
            this[7] = k = Expand(k, X86Aes.KeygenAssist(k, 0x40));
            this[8] = k = Expand(k, X86Aes.KeygenAssist(k, 0x80));
            this[9] = k = Expand(k, X86Aes.KeygenAssist(k, 0x1b));
            this[10] = Expand(k, X86Aes.KeygenAssist(k, 0x36));
        }

        // FIPS-197 5.2 key expansion, one round: w[i] = w[i-1] ^ w[i-4] folded over the four words of the previous key,
        // plus SubWord(RotWord(last word)) ^ rcon from AESKEYGENASSIST
        private static Vector128<byte> Expand(Vector128<byte> key, Vector128<byte> assist)
        {
            var t = Sse2.Shuffle(assist.AsUInt32(), 0xFF).AsByte();
            key = Sse2.Xor(key, Sse2.ShiftLeftLogical128BitLane(key, 4));
            key = Sse2.Xor(key, Sse2.ShiftLeftLogical128BitLane(key, 4));
            key = Sse2.Xor(key, Sse2.ShiftLeftLogical128BitLane(key, 4));
            return Sse2.Xor(key, t);
        }

        internal readonly Vector128<byte> Encrypt(Vector128<byte> block)
        {
            block = Sse2.Xor(block, this[0]);
            for (int r = 1; r < 10; r++) block = X86Aes.Encrypt(block, this[r]);
            return X86Aes.EncryptLast(block, this[10]);
        }

        /// <summary>Four blocks at once: the rounds of one block wait on the previous round's result, so four
        /// independent blocks keep the AES unit busy where one would leave it idle most of each round.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal readonly void Encrypt4(ref Vector128<byte> b0, ref Vector128<byte> b1, ref Vector128<byte> b2, ref Vector128<byte> b3)
        {
            var k = this[0];
            b0 = Sse2.Xor(b0, k); b1 = Sse2.Xor(b1, k); b2 = Sse2.Xor(b2, k); b3 = Sse2.Xor(b3, k);
            for (int r = 1; r < 10; r++)
            {
                k = this[r];
                b0 = X86Aes.Encrypt(b0, k); b1 = X86Aes.Encrypt(b1, k); b2 = X86Aes.Encrypt(b2, k); b3 = X86Aes.Encrypt(b3, k);
            }
            k = this[10];
            b0 = X86Aes.EncryptLast(b0, k); b1 = X86Aes.EncryptLast(b1, k); b2 = X86Aes.EncryptLast(b2, k); b3 = X86Aes.EncryptLast(b3, k);
        }

        /// <summary>XORs data in place with the key stream from counter block iv16 (+ firstBlock, 128-bit big-endian).</summary>
        public readonly void Apply(ReadOnlySpan<byte> iv16, Span<byte> data, int firstBlock = 0)
        {
            Span<byte> counter = stackalloc byte[16];
            iv16[..16].CopyTo(counter);
            AesCtr.AddToCounter(counter, firstBlock);
            Span<byte> stream = stackalloc byte[16];
            for (int o = 0; o < data.Length; o += 16)
            {
                Encrypt(Vector128.Create((ReadOnlySpan<byte>)counter)).CopyTo(stream);
                int n = Math.Min(16, data.Length - o);
                var chunk = data.Slice(o, n);
                if (n == 16) (Vector128.Create((ReadOnlySpan<byte>)chunk) ^ Vector128.Create((ReadOnlySpan<byte>)stream)).CopyTo(chunk);
                else for (int i = 0; i < n; i++) chunk[i] ^= stream[i];
                for (int i = 15; i >= 0; i--) { if (++counter[i] != 0) break; }
            }
        }
    }
}
