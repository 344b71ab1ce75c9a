namespace LocalWebSocket.Security;

/// <summary>
/// Accepts a request only when every authenticator does, checked in order; the first denial is the answer
/// (Dart's <c>MultiRequestAuthenticator</c>). Metadata of all of them is merged, later ones winning.
/// </summary>
public sealed class AllOfAuthenticator : IRequestAuthenticator
{
    private readonly IRequestAuthenticator[] _authenticators;

    /// <summary>Creates the combinator.</summary>
    public AllOfAuthenticator(params IRequestAuthenticator[] authenticators)
    {
        ArgumentNullException.ThrowIfNull(authenticators);
        if (authenticators.Length == 0 || authenticators.Any(a => a is null))
        {
            throw new ArgumentException("At least one authenticator, and no null, is needed.", nameof(authenticators));
        }

        _authenticators = authenticators;
        CredentialParameters = [.. authenticators.SelectMany(a => a.CredentialParameters).Distinct(StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public IReadOnlyCollection<string> CredentialParameters { get; }

    /// <inheritdoc />
    public async ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken)
    {
        Dictionary<string, string>? metadata = null;
        foreach (var authenticator in _authenticators)
        {
            var result = await authenticator.AuthenticateAsync(request, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                return result;
            }

            if (result.Metadata is { Count: > 0 } found)
            {
                metadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in found)
                {
                    metadata[key] = value;
                }
            }
        }

        return AuthenticationResult.Allow(metadata);
    }
}
