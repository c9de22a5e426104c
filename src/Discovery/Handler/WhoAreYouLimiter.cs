using System.Net;

namespace ClP2p.Discovery.Handler;

/// <summary>
/// WHOAREYOU packets per source IP per second, shared by all shards (one IP's ports land in different shards).
/// A WHOAREYOU answers any 63-byte packet from anyone, so without a limit the node amplifies spoofed traffic
/// (discv5-security.md "Amplification"). The lock guards a dictionary update, nothing more.
/// </summary>
internal sealed class WhoAreYouLimiter(int perIpPerSecond, TimeProvider time)
{
    private const int MaxTrackedIps = 100_000;
    private readonly Dictionary<IPAddress, (long Window, int Count)> _rate = [];

    public bool Allow(IPAddress ip, long now)
    {
        long window = now / time.TimestampFrequency;
        lock (_rate)
        {
            if (_rate.TryGetValue(ip, out var r) && r.Window == window)
            {
                if (r.Count >= perIpPerSecond) return false;
                _rate[ip] = (window, r.Count + 1);
                return true;
            }
            if (_rate.Count > MaxTrackedIps) _rate.Clear();
            _rate[ip] = (window, 1);
            return true;
        }
    }

    public void Purge(long now)
    {
        long window = now / time.TimestampFrequency;
        lock (_rate)
        {
            if (_rate.Count == 0) return;
            foreach (var ip in _rate.Where(kv => kv.Value.Window < window).Select(kv => kv.Key).ToArray()) _rate.Remove(ip);
        }
    }
}
