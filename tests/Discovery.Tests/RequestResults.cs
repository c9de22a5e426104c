namespace ClP2p.Discovery.Tests;

/// <summary>Assertions on <see cref="RequestResult{T}"/>: the answer of a request that must succeed, the reason of one that must fail.</summary>
internal static class RequestResults
{
    public static T Ok<T>(this RequestResult<T> r)
    {
        Assert.True(r.IsOk, $"request failed: {r.Failure}");
        return r.Value!;
    }

    public static async Task<T> Ok<T>(this Task<RequestResult<T>> t) => (await t).Ok();

    public static async Task<RequestFailure> Failure<T>(this Task<RequestResult<T>> t)
    {
        var r = await t;
        Assert.False(r.IsOk, $"request answered: {r.Value}");
        return r.Failure!.Value;
    }
}
