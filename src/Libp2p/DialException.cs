namespace ClP2p.Libp2p;

/// <summary>Why a dial or a stream failed.</summary>
public enum DialErrorClass
{
    /// <summary>TCP connection refused (RST on SYN).</summary>
    Refused,
    /// <summary>A step did not finish within its timeout (see <see cref="DialException.Step"/>).</summary>
    Timeout,
    /// <summary>The remote reset the TCP connection.</summary>
    Reset,
    /// <summary>Host or network unreachable.</summary>
    Unreachable,
    /// <summary>Noise handshake failed: bad identity signature, decryption failure, bad key.</summary>
    NoiseFailure,
    /// <summary>The remote does not speak multistream-select or refused <c>/noise</c>.</summary>
    SecurityNegotiation,
    /// <summary>The remote accepted none of our stream muxers.</summary>
    MuxerNegotiation,
    /// <summary>The remote refused every protocol we proposed on a stream.</summary>
    ProtocolNotSupported,
    /// <summary>The remote's Noise identity is not the peer id we expected.</summary>
    PeerIdMismatch,
    /// <summary>The remote closed the connection before the step finished.</summary>
    Eof,
    /// <summary>The remote sent an oversized or malformed frame or message.</summary>
    Malformed,
    /// <summary>The remote sent GoAway; no new streams can be opened.</summary>
    GoAway,
    Other,
}

/// <summary>The step of the connection upgrade at which a dial failed.</summary>
public enum DialStep
{
    Connect,
    SecurityNegotiation,
    NoiseHandshake,
    MuxerNegotiation,
    Identify,
    Stream,
}

/// <summary>A typed dial or stream failure: <see cref="Class"/> says what went wrong, <see cref="Step"/> where.</summary>
public sealed class DialException : Exception
{
    public DialException(DialErrorClass @class, DialStep step, string message, Exception? inner = null)
        : base($"{step}: {@class}: {message}", inner)
    {
        Class = @class;
        Step = step;
        Detail = message;
    }

    public DialException()
        : this(DialErrorClass.Other, DialStep.Connect, "dial failed")
    {
    }

    public DialException(string message)
        : this(DialErrorClass.Other, DialStep.Connect, message)
    {
    }

    public DialException(string message, Exception inner)
        : this(DialErrorClass.Other, DialStep.Connect, message, inner)
    {
    }

    public DialErrorClass Class { get; }

    public DialStep Step { get; }

    /// <summary>The message without the step/class prefix.</summary>
    public string Detail { get; }
}
