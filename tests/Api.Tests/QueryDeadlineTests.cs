using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Time.Testing;

namespace ClP2p.Api.Tests;

/// <summary>The query deadline runs on the API's clock: a query still running when the clock reaches it answers 504.</summary>
public sealed class QueryDeadlineTests
{
    [Fact]
    public async Task A_query_still_running_at_the_deadline_is_cancelled_and_answers_504()
    {
        var clock = new FakeTimeProvider();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CancellationToken seen = default;
        var answer = ApiEndpoints.Timed(clock, CancellationToken.None, async t =>
        {
            seen = t;
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, t);
            return 1;
        }, _ => Results.Ok());
        await started.Task.WaitAsync(HangGuard);

        clock.Advance(ApiEndpoints.QueryTimeout - TimeSpan.FromMilliseconds(1));
        Assert.False(seen.IsCancellationRequested);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(seen.IsCancellationRequested);

        var problem = Assert.IsType<ProblemHttpResult>(await answer.WaitAsync(HangGuard));
        Assert.Equal(StatusCodes.Status504GatewayTimeout, problem.StatusCode);
    }

    [Fact]
    public async Task A_query_that_answers_before_the_deadline_is_not_cancelled()
    {
        var clock = new FakeTimeProvider();
        var result = await ApiEndpoints.Timed(clock, CancellationToken.None, t => Task.FromResult(t.IsCancellationRequested), Results.Ok);
        Assert.False(Assert.IsType<Ok<bool>>(result).Value);
    }
}
