using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using LocalWebSocket.Server;

namespace LocalWebSocket.Security;

/// <summary>What happens to a message a validator looked at.</summary>
public enum MessageVerdict
{
    /// <summary>Relayed and raised as usual.</summary>
    Accept,

    /// <summary>Dropped silently (counted in <see cref="ServerStatistics.MessagesRejected"/>), as the Dart docs say.</summary>
    Drop,

    /// <summary>Dropped, and the sender is closed with 1008 (opt-in).</summary>
    Close,
}

/// <summary>
/// A message being validated. Its <see cref="Data"/> is only valid during the call (it lives in a pooled
/// buffer); call <see cref="ToMessage"/> to keep it.
/// </summary>
public readonly struct IncomingMessage
{
    internal IncomingMessage(WebSocketMessageType type, ReadOnlyMemory<byte> data)
    {
        Type = type;
        Data = data;
    }

    /// <summary>Text or binary.</summary>
    public WebSocketMessageType Type { get; }

    /// <summary>Whether this is a text message.</summary>
    public bool IsText => Type == WebSocketMessageType.Text;

    /// <summary>The payload, valid only during the validation call.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The payload decoded as UTF-8.</summary>
    public string Text => Encoding.UTF8.GetString(Data.Span);

    /// <summary>A copy to keep.</summary>
    public WebSocketMessage ToMessage() => WebSocketMessage.FromOwned(Type, Data.ToArray());
}

/// <summary>
/// Checks every message a client sends, text and binary, before it is relayed or raised. An exception
/// counts as <see cref="MessageVerdict.Drop"/>.
/// </summary>
public interface IMessageValidator
{
    /// <summary>Judges one message.</summary>
    /// <param name="client">The sender.</param>
    /// <param name="message">The message; its memory is valid until the returned task completes.</param>
    /// <param name="cancellationToken">Cancelled when the sender's connection is dropped (the server stopping, a close timeout).</param>
    /// <remarks>The sender's next message waits for this verdict: a slow validator slows that client only.</remarks>
    ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken);
}

/// <summary>
/// Limits each client to <c>messages</c> per <c>window</c> with a token bucket (O(1) memory per client):
/// a burst of up to that many, refilled smoothly. Excess messages get <c>whenExceeded</c>.
/// </summary>
public sealed class RateLimitValidator : IMessageValidator
{
    private readonly double _capacity;
    private readonly double _tokensPerTick;
    private readonly MessageVerdict _whenExceeded;
    private readonly TimeProvider _time;

    /// <summary>Creates the limiter.</summary>
    /// <param name="messages">Messages allowed per window (and the burst size).</param>
    /// <param name="window">The window.</param>
    /// <param name="whenExceeded"><see cref="MessageVerdict.Drop"/> (default) or <see cref="MessageVerdict.Close"/>.</param>
    /// <param name="timeProvider">The clock; the system clock by default.</param>
    public RateLimitValidator(int messages, TimeSpan window, MessageVerdict whenExceeded = MessageVerdict.Drop, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(messages, 1);
        if (window <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "The window must be positive.");
        }

        _capacity = messages;
        _time = timeProvider ?? TimeProvider.System;
        _tokensPerTick = messages / (window.TotalSeconds * _time.TimestampFrequency);
        _whenExceeded = whenExceeded == MessageVerdict.Accept ? MessageVerdict.Drop : whenExceeded;
    }

    /// <inheritdoc />
    public ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var bucket = client.GetOrAddState(this, static key =>
        {
            var limiter = (RateLimitValidator)key;
            return new Bucket(limiter._capacity, limiter._time.GetTimestamp());
        });
        lock (bucket)
        {
            var now = _time.GetTimestamp();
            bucket.Tokens = Math.Min(_capacity, bucket.Tokens + ((now - bucket.Stamp) * _tokensPerTick));
            bucket.Stamp = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return ValueTask.FromResult(MessageVerdict.Accept);
            }
        }

        return ValueTask.FromResult(_whenExceeded);
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens { get; set; } = tokens;

        public long Stamp { get; set; } = stamp;
    }
}

/// <summary>Rejects messages larger than a size (below the server's hard <see cref="LocalWebSocketServerOptions.MaxMessageSize"/>).</summary>
public sealed class MaxSizeValidator(int maxBytes, MessageVerdict whenExceeded = MessageVerdict.Drop) : IMessageValidator
{
    private readonly int _maxBytes = maxBytes >= 0 ? maxBytes : throw new ArgumentOutOfRangeException(nameof(maxBytes));

    /// <inheritdoc />
    public ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken) =>
        ValueTask.FromResult(message.Data.Length <= _maxBytes ? MessageVerdict.Accept : whenExceeded);
}

/// <summary>
/// Accepts only text messages that are a JSON object holding every required property (e.g. <c>type</c>);
/// anything else gets <c>whenInvalid</c>.
/// </summary>
public sealed class JsonShapeValidator(IEnumerable<string> requiredProperties, MessageVerdict whenInvalid = MessageVerdict.Drop) : IMessageValidator
{
    private readonly string[] _required = [.. requiredProperties];

    /// <inheritdoc />
    public ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken)
    {
        if (!message.IsText)
        {
            return ValueTask.FromResult(whenInvalid);
        }

        try
        {
            using var document = JsonDocument.Parse(message.Data);
            var ok = document.RootElement.ValueKind == JsonValueKind.Object
                && _required.All(name => document.RootElement.TryGetProperty(name, out _));
            return ValueTask.FromResult(ok ? MessageVerdict.Accept : whenInvalid);
        }
        catch (JsonException)
        {
            return ValueTask.FromResult(whenInvalid);
        }
    }
}

/// <summary>Runs validators in order; the first verdict that is not <see cref="MessageVerdict.Accept"/> wins.</summary>
public sealed class AllOfMessageValidator(params IMessageValidator[] validators) : IMessageValidator
{
    private readonly IMessageValidator[] _validators = validators.Length > 0 && validators.All(v => v is not null)
        ? validators
        : throw new ArgumentException("At least one validator, and no null, is needed.", nameof(validators));

    /// <inheritdoc />
    public async ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken)
    {
        foreach (var validator in _validators)
        {
            var verdict = await validator.ValidateAsync(client, message, cancellationToken).ConfigureAwait(false);
            if (verdict != MessageVerdict.Accept)
            {
                return verdict;
            }
        }

        return MessageVerdict.Accept;
    }
}
