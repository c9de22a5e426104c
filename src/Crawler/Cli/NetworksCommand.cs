using System.CommandLine;
using System.Globalization;
using ClP2p.Eth2.Networks;

namespace ClP2p.Crawler.Cli;

/// <summary>
/// `clp2p networks`: the built-in networks with their fork schedule (epoch, digest; an unscheduled fork with the digest it
/// will have), whether each schedule is verified, where it comes from, and which networks are retired.
/// </summary>
public static class NetworksCommand
{
    public static Command Build()
    {
        var command = new Command("networks", "List the built-in networks: forks with epochs and fork digests, the schedule's sources, verified or not, retired or not.");
        command.SetAction((_, _) => Task.FromResult(Execute(Console.Out)));
        return command;
    }

    public static int Execute(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (Eth2Network n in NetworkRegistry.Builtin.Networks)
        {
            string state = n.Retired is { } why ? $"retired: {why}" : "live";
            output.WriteLine($"{n.Name} ({state}; schedule {(n.Verified ? "verified" : "NOT verified")})");
            foreach (Fork f in n.Forks)
            {
                string epoch = f.IsScheduled ? f.Epoch.ToString(CultureInfo.InvariantCulture) : "unscheduled";
                string digest = f.Digest is { } d ? (f.IsScheduled ? d.ToString() : d + " (if activated after the last fork)") : "-";
                output.WriteLine($"  {f.Name,-10} epoch {epoch,-12} digest {digest}{(f.Verified ? "" : "  UNVERIFIED")}");
            }
            foreach ((string topic, string source) in n.Sources.OrderBy(s => s.Key, StringComparer.Ordinal))
                output.WriteLine($"  source {topic}: {source}");
        }
        return 0;
    }
}
