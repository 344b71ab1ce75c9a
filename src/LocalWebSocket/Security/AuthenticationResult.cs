namespace LocalWebSocket.Security;

/// <summary>What a request authenticator decided.</summary>
public readonly record struct AuthenticationResult
{
    private AuthenticationResult(bool succeeded, int statusCode, string? reason, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Succeeded = succeeded;
        StatusCode = statusCode;
        Reason = reason;
        Metadata = metadata;
    }

    /// <summary>Whether the request may upgrade.</summary>
    public bool Succeeded { get; }

    /// <summary>The HTTP status of a denial: 401 for missing credentials, 403 for wrong ones.</summary>
    public int StatusCode { get; }

    /// <summary>Why the request was denied; sent to the client in the JSON error body.</summary>
    public string? Reason { get; }

    /// <summary>What the authenticator learned about the client (a user name, a role), kept on the connected client.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; }

    /// <summary>The request may upgrade.</summary>
    /// <param name="metadata">Facts to keep on the connected client as <see cref="Server.ConnectedClient.AuthenticationMetadata"/>.</param>
    public static AuthenticationResult Allow(IReadOnlyDictionary<string, string>? metadata = null) => new(true, 101, null, metadata);

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
