using System.Globalization;

namespace ClP2p.Crawler.Config;

/// <summary>Parses durations written as 500ms, 30s, 5m, 2h, 1d, or a TimeSpan (hh:mm:ss).</summary>
public static class Duration
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        (string suffix, double seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (suffix, seconds) in units)
        {
            if (!text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            string number = text[..^suffix.Length];
            if (number.Length > 0 && char.IsDigit(number[^1]) &&
                double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0)
            {
                value = TimeSpan.FromSeconds(n * seconds);
                return true;
            }
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"'{text}' is not a duration (e.g. 30s, 5m, 2h, 01:30:00)");
}
