using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;

namespace ClP2p.Crawler.Config;

/// <summary>
/// The crawler's secp256k1 node key, persisted as hex in its data directory so that its node id (discv5) and
/// peer id (libp2p) stay the same across runs.
/// </summary>
public static class NodeKeyStore
{
    public const string FileName = "node.key";

    private static readonly BigInteger CurveOrder = BigInteger.Parse(
        "0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>Loads the key from <paramref name="dataDir"/>, creating and saving a new one when there is none.</summary>
    public static byte[] LoadOrCreate(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        string path = Path.Combine(dataDir, FileName);
        if (File.Exists(path))
        {
            string text = File.ReadAllText(path).Trim();
            byte[] key;
            try { key = Convert.FromHexString(text); }
            catch (FormatException) { throw new InvalidDataException($"{path}: not a hex secp256k1 key"); }
            if (!IsValid(key)) throw new InvalidDataException($"{path}: not a valid 32-byte secp256k1 private key");
            return key;
        }
        byte[] fresh = Generate();
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, Convert.ToHexStringLower(fresh));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(tmp, path, overwrite: false);
        return fresh;
    }

    public static byte[] Generate()
    {
        byte[] key = new byte[32];
        do RandomNumberGenerator.Fill(key); while (!IsValid(key));
        return key;
    }

    /// <summary>A secp256k1 secret is 32 bytes in [1, n-1].</summary>
    public static bool IsValid(ReadOnlySpan<byte> key)
    {
        if (key.Length != 32) return false;
        var k = new BigInteger(key, isUnsigned: true, isBigEndian: true);
        return k > BigInteger.Zero && k < CurveOrder;
    }
}
