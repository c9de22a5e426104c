namespace ClP2p.Storage;

/// <summary>
/// Names of vantage points: the place a crawler runs from (<c>--vantage NAME</c>), recorded on each of its crawls so that
/// crawls of several places, written to one database or imported from another's export, merge into one census.
/// </summary>
public static class CrawlVantage
{
    /// <summary>The vantage of crawls that named none.</summary>
    public const string Default = "default";

    /// <summary>Longest vantage name.</summary>
    public const int MaxLength = 64;

    /// <summary>True for 1 to <see cref="MaxLength"/> characters of ASCII letters, digits, '.', '_' and '-'.</summary>
    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
