namespace ClP2p.Storage;

/// <summary>One batch of items, written in one transaction.</summary>
internal sealed class Batch
{
    public List<EnrObservation> Enrs { get; } = [];
    public List<VisitObservation> Visits { get; } = [];
    public List<IpGeo> Geos { get; } = [];
    public int Count => Enrs.Count + Visits.Count + Geos.Count;
}

/// <summary>Rows touched by one batch write.</summary>
internal readonly record struct WriteResult(int Nodes, int Enrs, int Visits, int Geos, int Agents);

/// <summary>Writes a batch in one transaction, or throws leaving the database unchanged.</summary>
internal interface IBatchSink : IAsyncDisposable
{
    Task<WriteResult> WriteAsync(Batch batch, CancellationToken ct);
}
