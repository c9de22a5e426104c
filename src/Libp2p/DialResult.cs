namespace ClP2p.Libp2p;

/// <summary>
/// What a non-throwing dial step returns: its <see cref="Value"/>, or the <see cref="Error"/> it would have thrown
/// (created, not thrown). Most of a crawl's dials fail (half of a network's records are nodes that are gone), and an
/// exception thrown for each, rethrown through every async frame above it, was a measurable share of a crawl's CPU.
/// </summary>
public readonly struct DialResult<T>
    where T : class
{
    public DialResult(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
        Error = null;
    }

    public DialResult(DialException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Value = null;
        Error = error;
    }

    /// <summary>The result; null when the step failed.</summary>
    public T? Value { get; }

    /// <summary>Why the step failed; null when it succeeded.</summary>
    public DialException? Error { get; }

    public bool Succeeded => Error is null && Value is not null;

    /// <summary>The value, or throws <see cref="Error"/> (the throwing APIs are built on this).</summary>
    public T GetValueOrThrow() => Error is { } e ? throw e : Value ?? throw new InvalidOperationException("default DialResult");
}
