using System.Net;
using System.Text.RegularExpressions;

namespace LocalWebSocket.Security;

/// <summary>What a client validator knows about a client that completed the upgrade but has not joined yet.</summary>
public sealed class ClientValidationContext
{
    internal ClientValidationContext(
        IReadOnlyDictionary<string, string> details, IPEndPoint remoteEndPoint, IReadOnlyDictionary<string, string> metadata, int connectedClients)
    {
        Details = details;
        RemoteEndPoint = remoteEndPoint;
        AuthenticationMetadata = metadata;
        ConnectedClients = connectedClients;
    }

    /// <summary>The details the client sent (credential parameters removed).</summary>
    public IReadOnlyDictionary<string, string> Details { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>What the request authenticator kept about the client.</summary>
    public IReadOnlyDictionary<string, string> AuthenticationMetadata { get; }

    /// <summary>How many clients are connected now, this one not counted.</summary>
    public int ConnectedClients { get; }
}

/// <summary>A client validator's decision.</summary>
public readonly record struct ClientValidationResult(bool Accepted, string? Reason)
{
    /// <summary>The client may join.</summary>
    public static ClientValidationResult Accept() => new(true, null);

    /// <summary>The client is closed with 1008 and never joins; the reason is logged.</summary>
    public static ClientValidationResult Refuse(string reason) => new(false, reason);
}

/// <summary>
/// Decides, after the upgrade and before the client joins, whether it may stay. A refusal closes it with
/// 1008 <c>Client validation failed</c>; it never appears in the client set or the events. An exception
/// counts as a refusal.
/// </summary>
public interface IClientValidator
{
    /// <summary>Checks one client.</summary>
    ValueTask<ClientValidationResult> ValidateAsync(ClientValidationContext context, CancellationToken cancellationToken);
}

/// <summary>Refuses a client when <see cref="MaxClients"/> are connected already.</summary>
public sealed class MaxClientsValidator : IClientValidator
{
    /// <summary>Creates the validator.</summary>
    public MaxClientsValidator(int maxClients)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        MaxClients = maxClients;
    }

    /// <summary>The most clients at once.</summary>
    public int MaxClients { get; }

    /// <inheritdoc />
    public ValueTask<ClientValidationResult> ValidateAsync(ClientValidationContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(context.ConnectedClients < MaxClients
            ? ClientValidationResult.Accept()
            : ClientValidationResult.Refuse($"Maximum clients reached ({MaxClients})"));
}

/// <summary>Requires a detail (e.g. <c>username</c>) with a length range and, optionally, a pattern.</summary>
public sealed class RequiredDetailValidator : IClientValidator
{
    private readonly Regex? _pattern;

    /// <summary>Creates the validator.</summary>
    /// <param name="key">The detail required.</param>
    /// <param name="minLength">Its shortest length.</param>
    /// <param name="maxLength">Its longest length.</param>
    /// <param name="pattern">A regular expression the whole value must match, if any.</param>
    public RequiredDetailValidator(string key, int minLength = 1, int maxLength = 64, string? pattern = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentOutOfRangeException.ThrowIfNegative(minLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, minLength);
        Key = key;
        MinLength = minLength;
        MaxLength = maxLength;
        _pattern = pattern is null ? null : new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    /// <summary>The detail required.</summary>
    public string Key { get; }

    /// <summary>Its shortest length.</summary>
    public int MinLength { get; }

    /// <summary>Its longest length.</summary>
    public int MaxLength { get; }

    /// <inheritdoc />
    public ValueTask<ClientValidationResult> ValidateAsync(ClientValidationContext context, CancellationToken cancellationToken)
    {
        if (!context.Details.TryGetValue(Key, out var value))
        {
            return ValueTask.FromResult(ClientValidationResult.Refuse($"Missing detail '{Key}'"));
        }

        if (value.Length < MinLength || value.Length > MaxLength)
        {
            return ValueTask.FromResult(ClientValidationResult.Refuse($"Detail '{Key}' must be {MinLength} to {MaxLength} characters"));
        }

        return ValueTask.FromResult(_pattern is not null && !_pattern.IsMatch(value)
            ? ClientValidationResult.Refuse($"Detail '{Key}' has an invalid format")
            : ClientValidationResult.Accept());
    }
}

/// <summary>Accepts a client only when every validator does, in order; the first refusal wins.</summary>
public sealed class AllOfClientValidator(params IClientValidator[] validators) : IClientValidator
{
    private readonly IClientValidator[] _validators = validators.Length > 0 && validators.All(v => v is not null)
        ? validators
        : throw new ArgumentException("At least one validator, and no null, is needed.", nameof(validators));

    /// <inheritdoc />
    public async ValueTask<ClientValidationResult> ValidateAsync(ClientValidationContext context, CancellationToken cancellationToken)
    {
        foreach (var validator in _validators)
        {
            var result = await validator.ValidateAsync(context, cancellationToken).ConfigureAwait(false);
            if (!result.Accepted)
            {
                return result;
            }
        }

        return ClientValidationResult.Accept();
    }
}
