namespace ClP2p.Api.CommandLine;

/// <summary>
/// A bad option, configuration value, environment variable or path, found before any work is done. The command
/// prints its message as one line and exits 2.
/// </summary>
public sealed class UsageException : Exception
{
    public UsageException() { }

    public UsageException(string message) : base(message) { }

    public UsageException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Something outside the program stopped the command (database unreachable or missing, a port in use, a directory that
/// cannot be written). The command prints its message as one line, logs the details and exits 1.
/// </summary>
public sealed class EnvironmentFailureException : Exception
{
    public EnvironmentFailureException() { }

    public EnvironmentFailureException(string message) : base(message) { }

    public EnvironmentFailureException(string message, Exception inner) : base(message, inner) { }
}
