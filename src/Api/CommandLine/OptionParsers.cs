using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;

namespace ClP2p.Api.CommandLine;

/// <summary>
/// The shared parsers of every clp2p option whose value is more than a word: durations, counts, sizes, ports, IP
/// addresses, URLs and paths. Each option built here parses and checks its value while the command line is parsed, so a
/// bad value ends as one line naming the option and the accepted forms (exit 2) before anything runs. The same
/// <c>TryParse*</c> functions check values from appsettings.json and CLP2P_ environment variables.
/// </summary>
public static class OptionParsers
{
    /// <summary>Accepted duration forms, as shown to the user.</summary>
    public const string DurationForms = "e.g. 500ms, 30s, 5m, 2h, 1d or hh:mm:ss";

    /// <summary>A duration option. <paramref name="allowZero"/>: whether 0 is accepted (it usually means "off").</summary>
    public static Option<TimeSpan?> Duration(string name, string description, bool allowZero = false) =>
        Build<TimeSpan?>(name, description, "DURATION", text => TryParseDuration(text, allowZero, out var v, out var e) ? (v, null) : (null, e));

    /// <summary>A whole-number option in [min, max].</summary>
    public static Option<int?> Count(string name, string description, int min = 1, int max = int.MaxValue) =>
        Build<int?>(name, description, "N", text => TryParseCount(text, min, max, out int v, out var e) ? (v, null) : (null, e));

    /// <summary>A byte-size option (512, 64k, 16MiB, 2g; powers of 1024) in [min, max].</summary>
    public static Option<long?> Size(string name, string description, long min = 1, long max = long.MaxValue) =>
        Build<long?>(name, description, "SIZE", text => TryParseSize(text, min, max, out long v, out var e) ? (v, null) : (null, e));

    /// <summary>A UDP/TCP port option; <paramref name="allowZero"/>: 0 means any free port.</summary>
    public static Option<int?> Port(string name, string description, bool allowZero = true) =>
        Build<int?>(name, description, "PORT", text => TryParsePort(text, allowZero, out int v, out var e) ? (v, null) : (null, e));

    /// <summary>A local IP address option (IPv4 or IPv6 literal).</summary>
    public static Option<IPAddress?> Address(string name, string description) =>
        Build<IPAddress?>(name, description, "IP", text => TryParseAddress(text, out var v, out var e) ? (v, null) : (null, e));

    /// <summary>Listen URLs for an HTTP server: http(s)://host:port, several separated by ';'.</summary>
    public static Option<string?> HttpUrls(string name, string description) =>
        Build<string?>(name, description, "URLS", text => TryParseHttpUrls(text, out var e) ? (text.Trim(), null) : (null, e));

    /// <summary>A file the command writes: its directory must exist (or be creatable) and be writable. Checked at parse
    /// time, so an unwritable path is found before the work, not after it.</summary>
    public static Option<string?> OutputFile(string name, string description) =>
        Build<string?>(name, description, "PATH", text => TryCheckOutputFile(text, out var e) ? (text, null) : (null, e));

    /// <summary>A file the command reads: it must exist.</summary>
    public static Option<string?> InputFile(string name, string description) =>
        Build<string?>(name, description, "PATH", text => TryCheckInputFile(text, out var e) ? (text, null) : (null, e));

    /// <summary>A string option whose value is one of <paramref name="allowed"/> (case-insensitive).</summary>
    public static Option<string?> OneOf(string name, string description, params string[] allowed) =>
        Build<string?>(name, description, string.Join('|', allowed), text =>
            allowed.FirstOrDefault(a => a.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) is { } hit
                ? (hit, null) : (null, $"is not one of {string.Join(", ", allowed)}"));

    private static Option<T> Build<T>(string name, string description, string helpName, Func<string, (T? Value, string? Error)> parse) =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                var (value, error) = parse(text);
                if (error is null) return value;
                result.AddError($"{name} '{text}' {error}");
                return default;
            },
        };

    public static bool TryParseDuration(string? text, bool allowZero, out TimeSpan value, out string? error)
    {
        error = null;
        if (!TryParseDurationText(text, out value))
        {
            error = $"is not a duration: use a non-negative number with a unit, {DurationForms}";
            return false;
        }
        if (!allowZero && value == TimeSpan.Zero)
        {
            error = $"must be longer than zero ({DurationForms})";
            return false;
        }
        return true;
    }

    /// <summary>Durations written as 500ms, 30s, 5m, 2h, 1d, or a TimeSpan (hh:mm:ss); never negative.</summary>
    public static bool TryParseDurationText(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (text == "0") return true;
        (string suffix, double seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (suffix, seconds) in units)
        {
            if (!text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) continue;
            string number = text[..^suffix.Length];
            if (number.Length > 0 && char.IsDigit(number[^1]) && char.IsDigit(number[0]) &&
                double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) &&
                n * seconds <= TimeSpan.MaxValue.TotalSeconds / 2)
            {
                value = TimeSpan.FromSeconds(n * seconds);
                return true;
            }
        }
        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    public static bool TryParseCount(string? text, int min, int max, out int value, out string? error)
    {
        error = null;
        if (!int.TryParse(text?.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            error = $"is not a whole number: use {Range(min, max)}";
            return false;
        }
        if (value < min || value > max)
        {
            error = $"is out of range: use {Range(min, max)}";
            return false;
        }
        return true;
    }

    private static string Range(long min, long max) =>
        max == int.MaxValue || max == long.MaxValue ? $"a whole number of at least {min}" : $"a whole number from {min} to {max}";

    public static bool TryParseSize(string? text, long min, long max, out long value, out string? error)
    {
        value = 0;
        error = $"is not a size: use bytes or a number with k, m or g (powers of 1024), e.g. 512, 64k, 16MiB, from {min} to {max}";
        if (string.IsNullOrWhiteSpace(text)) return false;
        string t = text.Trim().ToLowerInvariant();
        if (t.EndsWith("ib", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('b')) t = t[..^1];
        long scale = 1;
        if (t.Length > 0 && t[^1] is 'k' or 'm' or 'g')
        {
            scale = t[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, _ => 1L << 30 };
            t = t[..^1];
        }
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / scale) return false;
        value = n * scale;
        if (value < min || value > max) { error = $"is out of range: use {min} to {max} bytes"; return false; }
        error = null;
        return true;
    }

    public static bool TryParsePort(string? text, bool allowZero, out int value, out string? error)
    {
        error = null;
        int min = allowZero ? 0 : 1;
        if (!int.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < min || value > IPEndPoint.MaxPort)
        {
            error = $"is not a port: use a number from {min} to {IPEndPoint.MaxPort}" + (allowZero ? " (0 = any free port)" : "");
            return false;
        }
        return true;
    }

    public static bool TryParseAddress(string? text, out IPAddress? value, out string? error)
    {
        error = null;
        value = null;
        string t = text?.Trim() ?? "";
        // IPAddress.TryParse accepts "1" or "1.2" as shorthand IPv4; only dotted quads and IPv6 literals are addresses here.
        bool looksRight = t.Contains(':', StringComparison.Ordinal) || t.Count(c => c == '.') == 3;
        if (!looksRight || !IPAddress.TryParse(t, out value))
        {
            value = null;
            error = "is not an IP address: use an IPv4 or IPv6 literal such as 0.0.0.0, 127.0.0.1 or ::";
            return false;
        }
        return true;
    }

    public static bool TryParseHttpUrls(string? text, out string? error)
    {
        error = null;
        var urls = (text ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0) { error = "is empty: use http://HOST:PORT (several separated by ';'), e.g. http://127.0.0.1:5080"; return false; }
        foreach (string url in urls)
        {
            // Kestrel also binds http://*:PORT and http://+:PORT; Uri does not parse those hosts.
            string probe = url.Replace("://*", "://any", StringComparison.Ordinal).Replace("://+", "://any", StringComparison.Ordinal);
            if (!Uri.TryCreate(probe, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host)
                || (uri.AbsolutePath != "/" && uri.AbsolutePath.Length > 0) || uri.Query.Length > 0)
            {
                error = $"is not a listen URL{(urls.Length > 1 ? $" ('{url}')" : "")}: use http://HOST:PORT (several separated by ';'), e.g. http://127.0.0.1:5080";
                return false;
            }
        }
        return true;
    }

    /// <summary>An output file can be created: its existing ancestor directory is writable and it is not a directory.</summary>
    public static bool TryCheckOutputFile(string? path, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(path)) { error = "is empty: give a file path"; return false; }
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            error = $"is not a valid path: {ex.Message}";
            return false;
        }
        if (Directory.Exists(full)) { error = "is a directory: give a file path"; return false; }
        if (File.Exists(full))
        {
            if (CanOpenForWrite(full, create: false)) return true;
            error = "is not writable: give a path this user can write";
            return false;
        }
        string? dir = Path.GetDirectoryName(full);
        while (dir is not null && !Directory.Exists(dir))
        {
            if (File.Exists(dir)) { error = $"cannot be created: {dir} is a file, not a directory"; return false; }
            dir = Path.GetDirectoryName(dir);
        }
        if (dir is null || !IsWritableDirectory(dir))
        {
            error = $"is not writable: directory {dir ?? "/"} does not let this user create files";
            return false;
        }
        return true;
    }

    /// <summary>True when a file can be created in <paramref name="dir"/> (probed with a temporary file, removed at once).</summary>
    public static bool IsWritableDirectory(string dir)
    {
        string probe = Path.Combine(dir, $".clp2p-write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return true;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private static bool CanOpenForWrite(string path, bool create)
    {
        try
        {
            using (new FileStream(path, create ? FileMode.OpenOrCreate : FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) { }
            return true;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    public static bool TryCheckInputFile(string? path, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(path)) { error = "is empty: give a file path"; return false; }
        if (Directory.Exists(path)) { error = "is a directory: give a file path"; return false; }
        if (!File.Exists(path)) { error = "does not exist: give the path of an existing file"; return false; }
        try
        {
            using (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)) { }
            return true;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            error = "is not readable by this user";
            return false;
        }
    }
}
