using System.Security.Cryptography;
using System.Text;

namespace LocalWebSocket.Security;

/// <summary>
/// Accepts a request whose query parameter (<c>token</c> by default) holds one of the valid tokens, as Dart's
/// <c>RequestTokenAuthenticator</c> does: missing or empty is 401 <c>Missing token parameter</c>, wrong is
/// 403 <c>Invalid token</c>. Tokens are compared in constant time, and the parameter is kept out of the
/// client's public details.
/// </summary>
public sealed class QueryTokenAuthenticator : IRequestAuthenticator
{
    private readonly byte[][] _validTokens;

    /// <summary>Creates the authenticator.</summary>
    /// <param name="validTokens">The accepted tokens; at least one, none empty.</param>
    /// <param name="parameterName">The query parameter that carries the token.</param>
    /// <exception cref="ArgumentException">No token, an empty token, or an empty parameter name.</exception>
    public QueryTokenAuthenticator(IEnumerable<string> validTokens, string parameterName = "token")
    {
        ArgumentNullException.ThrowIfNull(validTokens);
        ArgumentException.ThrowIfNullOrEmpty(parameterName);
        _validTokens = validTokens.Select(token =>
        {
            ArgumentException.ThrowIfNullOrEmpty(token, nameof(validTokens));
            return Encoding.UTF8.GetBytes(token);
        }).ToArray();
        if (_validTokens.Length == 0)
        {
            throw new ArgumentException("At least one valid token is needed.", nameof(validTokens));
        }

        ParameterName = parameterName;
        CredentialParameters = [parameterName];
    }

    /// <summary>The query parameter that carries the token.</summary>
    public string ParameterName { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<string> CredentialParameters { get; }

    /// <inheritdoc />
    public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.Query.TryGetValue(ParameterName, out var token) || token.Length == 0)
        {
            return ValueTask.FromResult(AuthenticationResult.MissingCredentials($"Missing {ParameterName} parameter"));
        }

        var offered = Encoding.UTF8.GetBytes(token);
        var match = false;
        foreach (var valid in _validTokens)
        {
            // Every token is compared, whatever matched before, so timing tells nothing about which.
            match |= CryptographicOperations.FixedTimeEquals(offered, valid);
        }

        return ValueTask.FromResult(match ? AuthenticationResult.Allow() : AuthenticationResult.InvalidCredentials($"Invalid {ParameterName}"));
    }
}
