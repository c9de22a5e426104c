namespace ClP2p.Storage;

/// <summary>Marker for the Storage assembly.</summary>
public static class AssemblyMarker
{
    public const string Name = "ClP2p.Storage";
}
