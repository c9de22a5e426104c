namespace ClP2p.Storage;

/// <summary>States of a crawl row.</summary>
public static class CrawlStates
{
    /// <summary>The crawl is in progress (or its process died; see CrawlStore.MarkInterruptedAsync).</summary>
    public const string Running = "running";
    /// <summary>The crawl ended normally.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>The crawl ended with an error, or its process was killed.</summary>
    public const string Failed = "failed";
    /// <summary>The crawl was stopped on request (SIGINT/SIGTERM).</summary>
    public const string Aborted = "aborted";

    /// <summary>True for one of the four known states.</summary>
    public static bool IsKnown(string state) => state is Running or Succeeded or Failed or Aborted;
}
