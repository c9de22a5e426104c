using ClP2p.Crawler.Config;
using ClP2p.Crawler.Eth2Crawl;

namespace ClP2p.Crawler.Tests;

public class DialBudgetTests
{
    [Fact]
    public void Reads_the_soft_open_file_limit_from_a_proc_limits_line()
    {
        Assert.Equal(1024, FileDescriptorLimit.Parse("Max open files            1024                 524288               files     "));
        Assert.Null(FileDescriptorLimit.Parse("Max open files            unlimited            unlimited            files     "));
    }

    [Fact]
    public void This_process_limit_is_read_on_linux()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(FileDescriptorLimit.Read() is > 0);
    }

    [Theory]
    [InlineData(1000, 20_000L, 1000)]   // fits
    [InlineData(1000, 1024L, 576)]      // (1024 - 256) * 3/4
    [InlineData(1000, null, 1000)]      // no limit known
    [InlineData(10, 100L, 1)]           // a limit below the reserve still allows one dial
    public void Dial_concurrency_is_capped_by_the_open_file_limit(int configured, long? limit, int expected) =>
        Assert.Equal(expected, DialBudget.Concurrency(configured, limit));
}
