namespace ClP2p.Eth2.Tests;

internal static class TestPaths
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ClP2p.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("repo root (ClP2p.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>networks.json / bootnodes.json as shipped in src/Eth2/Data (the network registry's data).</summary>
    public static string SpecFile(string name) => name switch
    {
        "networks.json" or "bootnodes.json" => Path.Combine(RepoRoot(), "src", "Eth2", "Data", name),
        "networks/sepolia/config.yaml" => Path.Combine(AppContext.BaseDirectory, "Data", "sepolia-config.yaml"),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
