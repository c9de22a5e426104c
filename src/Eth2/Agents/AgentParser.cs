using System.Text.RegularExpressions;

namespace ClP2p.Eth2.Agents;

/// <summary>
/// A classified libp2p identify <c>agentVersion</c>.
/// </summary>
/// <param name="Client">lighthouse, prysm, teku, nimbus, lodestar, grandine, erigon (Caplin), a few named others
/// (tysm, hermes, …), or <see cref="AgentParser.Other"/>.</param>
/// <param name="Version">Normalised <c>vMAJOR.MINOR[.PATCH][-rc.N]</c>, build suffixes dropped; null when absent.</param>
/// <param name="Os">linux, windows, macos, freebsd; null when absent.</param>
/// <param name="Arch">x86_64, arm64, arm, x86; null when absent.</param>
/// <param name="Raw">The agent string exactly as received (empty when there was none).</param>
/// <param name="ClientInferred">True when the agent names only its libp2p library (<c>js-libp2p/2.8.2</c>) and
/// <paramref name="Client"/> is a guess from it; the library's version is then not reported as the client's.</param>
public sealed record AgentInfo(string Client, string? Version, string? Os, string? Arch, string Raw, bool ClientInferred = false);

/// <summary>
/// Parses consensus-client agent strings (each client formats its own; samples from real peers in the tests): <c>Lighthouse/v8.0.1-e42406d/x86_64-linux</c>,
/// <c>Prysm/v7.2.0/&lt;commit&gt;</c>, <c>teku/teku/vX/…</c> and <c>teku/vX/…</c>, bare <c>nimbus</c>,
/// <c>lodestar/v1.40.0/ffbb1d1</c>, <c>Grandine/2.0.5-70a5c7ea/x86_64-linux</c>, <c>erigon/caplin/…</c>, and the libp2p
/// library names some clients leave as their agent: js-libp2p → lodestar, nim-libp2p → nimbus, rust-libp2p → grandine.
/// </summary>
public static partial class AgentParser
{
    public const string Other = "other";

    /// <summary>First path segment (lowercased) → client. The libp2p library names are aliases, not certainties.</summary>
    private static readonly Dictionary<string, string> Clients = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lighthouse"] = "lighthouse",
        ["prysm"] = "prysm",
        ["teku"] = "teku",
        ["nimbus"] = "nimbus",
        ["lodestar"] = "lodestar",
        ["grandine"] = "grandine",
        ["caplin"] = "erigon",
        ["erigon"] = "erigon",
        ["js-libp2p"] = "lodestar",
        ["nim-libp2p"] = "nimbus",
        ["rust-libp2p"] = "grandine",
        ["tysm"] = "tysm",
        ["hermes"] = "hermes",
        ["cortex"] = "cortex",
        ["trinity"] = "trinity",
        ["lambda"] = "lambda",
        ["zeam"] = "zeam",
        ["ream"] = "ream",
    };

    /// <summary>Agents that name the libp2p library rather than the client (js-libp2p is Lodestar, nim-libp2p Nimbus, rust-libp2p Grandine or a Lighthouse fork).</summary>
    public static IReadOnlySet<string> LibraryAliases { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "js-libp2p", "nim-libp2p", "rust-libp2p" };

    public static AgentInfo Parse(string? agent)
    {
        var raw = agent ?? string.Empty;
        var text = raw.Trim();
        if (text.Length == 0) return new AgentInfo(Other, null, null, null, raw);

        var segments = text.Split('/', StringSplitOptions.TrimEntries);
        var first = segments[0];
        // "Prysm/v6.0.4 (linux arm64)": the first segment is the name only up to a space.
        int space = first.IndexOfAny([' ', '(']);
        if (space > 0) first = first[..space];

        string client;
        if (Clients.TryGetValue(first, out var c)) client = c;
        else if (first.Equals("github.com", StringComparison.OrdinalIgnoreCase) && text.Contains("prysm", StringComparison.OrdinalIgnoreCase)) client = "prysm";
        else client = Other;

        if (client == Other) return new AgentInfo(Other, null, null, null, raw);

        // An agent naming its libp2p library gives the library's version, not the client's: the client is a guess.
        bool inferred = LibraryAliases.Contains(first);
        string? version = null;
        var m = inferred ? Match.Empty : VersionRegex().Match(text[first.Length..]);
        if (m.Success) version = "v" + m.Groups["v"].Value;

        string? os = null, arch = null;
        foreach (var token in TokenRegex().Split(text.ToLowerInvariant()))
        {
            os ??= token switch
            {
                "linux" or "gnu" => "linux",
                "windows" or "win32" or "win64" => "windows",
                "macos" or "darwin" or "osx" or "mac" => "macos",
                "freebsd" => "freebsd",
                _ => null,
            };
            arch ??= token switch
            {
                "x86_64" or "amd64" or "x64" => "x86_64",
                "aarch64" or "arm64" or "aarch_64" => "arm64",
                "arm" or "armv7" or "armv7l" => "arm",
                "i386" or "i686" or "x86" => "x86",
                _ => null,
            };
        }
        return new AgentInfo(client, version, os, arch, raw, inferred);
    }

    /// <summary>A version segment: optional v, MAJOR.MINOR[.PATCH], optional -rc/-beta/-alpha tag; stops at commit suffixes.</summary>
    [GeneratedRegex(@"(?<=^|[/\s(])v?(?<v>\d+\.\d+(?:\.\d+)?(?:-(?:rc|beta|alpha)(?:\.?\d+)?)?)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex VersionRegex();

    [GeneratedRegex(@"[/\s()\-,;]+", RegexOptions.CultureInvariant)]
    private static partial Regex TokenRegex();
}
