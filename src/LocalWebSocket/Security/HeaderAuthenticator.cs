using System.Security.Cryptography;
using System.Text;

namespace LocalWebSocket.Security;

/// <summary>
/// Accepts a request whose header (e.g. <c>Authorization</c>) holds one of the valid values, as Dart's
/// <c>RequestHeaderAuthenticator</c> does: missing is 401 <c>Missing NAME header</c>, wrong (or repeated)
/// is 403 <c>Invalid NAME</c>. Values are compared in constant time. Browsers cannot set headers on a
/// WebSocket request: use <see cref="QueryTokenAuthenticator"/> for them.
/// </summary>
public sealed class HeaderAuthenticator : IRequestAuthenticator
{
    private readonly byte[][] _validValues;
    private readonly bool _caseSensitive;

    /// <summary>Creates the authenticator.</summary>
    /// <param name="headerName">The header to check.</param>
    /// <param name="validValues">The accepted values; at least one, none empty.</param>
    /// <param name="caseSensitive">Whether values must match case exactly (default true).</param>
    public HeaderAuthenticator(string headerName, IEnumerable<string> validValues, bool caseSensitive = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(headerName);
        ArgumentNullException.ThrowIfNull(validValues);
        HeaderName = headerName;
        _caseSensitive = caseSensitive;
        _validValues = validValues.Select(value =>
        {
            ArgumentException.ThrowIfNullOrEmpty(value, nameof(validValues));
            return Normalize(value);
        }).ToArray();
        if (_validValues.Length == 0)
        {
            throw new ArgumentException("At least one valid value is needed.", nameof(validValues));
        }
    }

    /// <summary>The header checked.</summary>
    public string HeaderName { get; }

    /// <inheritdoc />
    public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var values = request.Headers.Where(h => string.Equals(h.Key, HeaderName, StringComparison.OrdinalIgnoreCase)).ToList();
        if (values.Count == 0 || values[0].Value.Length == 0)
        {
            return ValueTask.FromResult(AuthenticationResult.MissingCredentials($"Missing {HeaderName} header"));
        }

        var offered = Normalize(values[0].Value);
        var match = false;
        foreach (var valid in _validValues)
        {
            match |= CryptographicOperations.FixedTimeEquals(offered, valid);
        }

        return ValueTask.FromResult(match && values.Count == 1
            ? AuthenticationResult.Allow()
            : AuthenticationResult.InvalidCredentials($"Invalid {HeaderName}"));
    }

    private byte[] Normalize(string value) => Encoding.UTF8.GetBytes(_caseSensitive ? value : value.ToUpperInvariant());
}
