namespace ClP2p.Crawler;

/// <summary>The clp2p command line.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("clp2p " + string.Join(' ', args));
        return 0;
    }
}
