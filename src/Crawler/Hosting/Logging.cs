using Microsoft.Extensions.Logging;

namespace ClP2p.Crawler;

/// <summary>Console logging for the commands: one line per message, UTC timestamps.</summary>
public static class Logging
{
    public static ILoggerFactory Create(LogLevel minimum) => LoggerFactory.Create(b => b
        .SetMinimumLevel(Environment.GetEnvironmentVariable("CLP2P_LOG_LEVEL") is { } l && Enum.TryParse<LogLevel>(l, true, out var lvl) ? lvl : minimum)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        }));
}
