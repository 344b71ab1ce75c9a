namespace LocalWebSocket.Security;

/// <summary>What a request authenticator decided.</summary>
public readonly record struct AuthenticationResult
{
    private AuthenticationResult(bool succeeded, int statusCode, string? reason)
    {
        Succeeded = succeeded;
        StatusCode = statusCode;
        Reason = reason;
    }

    /// <summary>Whether the request may upgrade.</summary>
    public bool Succeeded { get; }

    /// <summary>The HTTP status of a denial: 401 for missing credentials, 403 for wrong ones.</summary>
    public int StatusCode { get; }

    /// <summary>Why the request was denied; sent to the client in the JSON error body.</summary>
    public string? Reason { get; }

    /// <summary>The request may upgrade.</summary>
    public static AuthenticationResult Allow() => new(true, 101, null);

    /// <summary>Credentials are missing (HTTP 401).</summary>
    public static AuthenticationResult MissingCredentials(string reason) => Deny(401, reason);

    /// <summary>Credentials are wrong (HTTP 403).</summary>
    public static AuthenticationResult InvalidCredentials(string reason) => Deny(403, reason);

    /// <summary>The request is denied with <paramref name="statusCode"/> (400 to 599).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="statusCode"/> is not an HTTP error status.</exception>
    public static AuthenticationResult Deny(int statusCode, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        ArgumentNullException.ThrowIfNull(reason);
        return new(false, statusCode, reason);
    }
}
