using System.Net.WebSockets;
using System.Text;

namespace LocalWebSocket.Client;

/// <summary>
/// Given to <see cref="LocalWebSocketClientOptions.AfterConnect"/>, which runs on every (re)connect before
/// the messages waiting in the outbox go out: the place for a hello or an application-level login.
/// Messages sent here go first, straight to the new connection.
/// </summary>
public sealed class AfterConnectContext
{
    private readonly Func<ReadOnlyMemory<byte>, WebSocketMessageType, CancellationToken, ValueTask> _send;

    internal AfterConnectContext(
        LocalWebSocketClient client, int attempt, bool isReconnect, Func<ReadOnlyMemory<byte>, WebSocketMessageType, CancellationToken, ValueTask> send)
    {
        Client = client;
        Attempt = attempt;
        IsReconnect = isReconnect;
        _send = send;
    }

    /// <summary>The client that connected; its messages and events already flow.</summary>
    public LocalWebSocketClient Client { get; }

    /// <summary>0 for the first attempt, then the number of the retry by the reconnect policy.</summary>
    public int Attempt { get; }

    /// <summary>Whether a connection was lost and this one replaces it.</summary>
    public bool IsReconnect { get; }

    /// <summary>Sends a text message ahead of everything queued.</summary>
    public ValueTask SendAsync(string text, CancellationToken cancellationToken = default) =>
        _send(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, cancellationToken);

    /// <summary>Sends a message, text or binary as it is, ahead of everything queued.</summary>
    public ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return _send(message.Data, message.Type, cancellationToken);
    }
}
