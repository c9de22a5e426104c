namespace ClP2p.Libp2p;

/// <summary>Marker for the Libp2p assembly.</summary>
public static class AssemblyMarker
{
    public const string Name = "ClP2p.Libp2p";
}
