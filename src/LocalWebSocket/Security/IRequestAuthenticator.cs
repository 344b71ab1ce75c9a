namespace LocalWebSocket.Security;

/// <summary>
/// Decides, before the upgrade, whether a WebSocket request may connect. A denial answers the HTTP status
/// with <c>{"error":{"code":"AUTHENTICATION_FAILED","message":...,"statusCode":...}}</c> and never upgrades.
/// </summary>
public interface IRequestAuthenticator
{
    /// <summary>Checks one request; an exception counts as a denial with 500.</summary>
    ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Query parameters that carry credentials: they are removed from the client's public details.
    /// </summary>
    IReadOnlyCollection<string> CredentialParameters => [];
}
