using ClP2p.Api.CommandLine;

namespace ClP2p.Crawler.Config;

/// <summary>Parses durations written as 500ms, 30s, 5m, 2h, 1d, or a TimeSpan (hh:mm:ss); see <see cref="OptionParsers"/>.</summary>
public static class Duration
{
    public static bool TryParse(string? text, out TimeSpan value) => OptionParsers.TryParseDurationText(text, out value);

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var v) ? v : throw new UsageException($"'{text}' is not a duration ({OptionParsers.DurationForms})");
}
