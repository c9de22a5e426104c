namespace ClP2p.Storage;

/// <summary>Thrown to a <see cref="ResultWriter.FlushAsync"/> caller when a batch was dropped after permanent errors.</summary>
public sealed class StorageWriteException : Exception
{
    /// <param name="message">Which batch was dropped and why.</param>
    /// <param name="inner">The last error of the batch's write.</param>
    public StorageWriteException(string message, Exception? inner) : base(message, inner) { }
    /// <inheritdoc />
    public StorageWriteException() { }
    /// <inheritdoc />
    public StorageWriteException(string message) : base(message) { }
}
