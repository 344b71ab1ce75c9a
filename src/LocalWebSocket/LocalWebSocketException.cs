namespace LocalWebSocket;

/// <summary>
/// The one exception type of this library's connection errors. <see cref="Code"/> says what went wrong;
/// <see cref="StatusCode"/> carries the HTTP status when the server answered one; the cause is
/// <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class LocalWebSocketException : Exception
{
    /// <summary>Creates an exception.</summary>
    public LocalWebSocketException(LocalWebSocketErrorCode code, string message, int? statusCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        StatusCode = statusCode;
    }

    /// <summary>Creates an exception with code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>.</summary>
    public LocalWebSocketException()
        : this(LocalWebSocketErrorCode.ConnectionFailed, "Connection failed.")
    {
    }

    /// <summary>Creates an exception with code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>.</summary>
    public LocalWebSocketException(string message)
        : this(LocalWebSocketErrorCode.ConnectionFailed, message)
    {
    }

    /// <summary>Creates an exception with code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>.</summary>
    public LocalWebSocketException(string message, Exception innerException)
        : this(LocalWebSocketErrorCode.ConnectionFailed, message, null, innerException)
    {
    }

    /// <summary>What went wrong.</summary>
    public LocalWebSocketErrorCode Code { get; }

    /// <summary>The HTTP status the server answered, when there was one (401, 403, 404...).</summary>
    public int? StatusCode { get; }

    /// <summary>
    /// How long the server asked the client to wait before trying again (its <c>Retry-After</c>, with
    /// <see cref="LocalWebSocketErrorCode.ServerBusy"/>), when it said.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Code, message and status, e.g. <c>[AuthenticationFailed] Invalid token (HTTP 403)</c>.</summary>
    public override string ToString() =>
        $"[{Code}] {Message}{(StatusCode is { } status ? $" (HTTP {status})" : "")}{(RetryAfter is { } wait ? $" (retry after {wait.TotalSeconds:0.###} s)" : "")}"
        + (InnerException is null ? "" : Environment.NewLine + " ---> " + InnerException);
}
