namespace ClP2p.Eth2;

/// <summary>Marker for the Eth2 assembly.</summary>
public static class AssemblyMarker
{
    public const string Name = "ClP2p.Eth2";
}
