using ClP2p.Crawler.Cli;
using ClP2p.Crawler.Engine;

namespace ClP2p.Crawler.Tests;

public sealed class CrawlProgressTests
{
    private static CrawlCounters Counters(int found, int dialled, int ok)
    {
        var c = new CrawlCounters();
        for (int i = 0; i < found; i++) { c.NodeFound(consensus: true); c.NodeQueried(answered: true, complete: true); }
        for (int i = 0; i < dialled; i++) c.DialFinished(new DialReport<string>(i < ok ? DialOutcomes.Ok : "timeout", TimeSpan.Zero, null));
        return c;
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(99_999, 99_999, 50_000)]
    [InlineData(2_500_000, 1_234_567, 765_432)]
    public void Live_line_fits_80_columns_at_any_size(int found, int dialled, int ok)
    {
        string line = CrawlProgress.Line(Counters(found, dialled, ok), TimeSpan.FromHours(123.5), 98765.4);
        Assert.True(line.Length + 2 <= 80, $"{line.Length} columns: {line}");   // + the spinner and its space
        Assert.StartsWith("123:30:00 found ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Dial_rate_is_over_the_last_window_not_since_the_start()
    {
        var rate = new DialRate(TimeSpan.FromSeconds(10));
        Assert.Equal(0, rate.Sample(TimeSpan.Zero, 0));
        Assert.Equal(100, rate.Sample(TimeSpan.FromSeconds(10), 1000), 6);   // 1,000 dials in the first 10 s
        Assert.Equal(100, rate.Sample(TimeSpan.FromSeconds(20), 2000), 6);
        Assert.Equal(0, rate.Sample(TimeSpan.FromSeconds(31), 2000), 6);    // stalled: the mean since start would say 64.5/s
        Assert.Equal(5, rate.Sample(TimeSpan.FromSeconds(41), 2050), 6);
    }
}
