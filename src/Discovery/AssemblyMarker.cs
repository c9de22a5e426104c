namespace ClP2p.Discovery;

/// <summary>Marker for the Discovery assembly.</summary>
public static class AssemblyMarker
{
    public const string Name = "ClP2p.Discovery";
}
