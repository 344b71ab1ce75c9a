using System.Text.Json.Serialization.Metadata;

namespace LocalWebSocket.Client;

/// <summary>
/// What application code needs of a client: implemented by <see cref="LocalWebSocketClient"/> and by
/// <see cref="Testing.FakeLocalWebSocketClient"/>, so that code written against this interface can be unit
/// tested without a network.
/// </summary>
public interface ILocalWebSocketClient : IAsyncDisposable
{
    /// <summary>A message arrived.</summary>
    event EventHandler<WebSocketMessage>? MessageReceived;

    /// <summary>The connection state changed.</summary>
    event EventHandler<ConnectionStateChangedEventArgs>? StateChanged;

    /// <summary>The client's own id.</summary>
    string Id { get; }

    /// <summary>The connection state now.</summary>
    ConnectionState State { get; }

    /// <summary>Whether messages can be sent now (connected or reconnected).</summary>
    bool IsConnected { get; }

    /// <summary>The URL of the current or last connection.</summary>
    Uri? Url { get; }

    /// <summary>Every message received; each enumeration is an independent reader.</summary>
    IAsyncEnumerable<WebSocketMessage> Messages { get; }

    /// <summary>Every change of connection state; each enumeration is an independent reader.</summary>
    IAsyncEnumerable<ConnectionStateChangedEventArgs> StateChanges { get; }

    /// <summary>Connects to a server's WebSocket URL (closing a current connection with 1001 first).</summary>
    Task ConnectAsync(Uri url, CancellationToken cancellationToken = default);

    /// <summary>Sends a text message.</summary>
    ValueTask SendAsync(string text, CancellationToken cancellationToken = default);

    /// <summary>Sends a binary message.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Sends a message as it is.</summary>
    ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default);

    /// <summary>Sends a value as JSON text.</summary>
    ValueTask SendJsonAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default);

    /// <summary>Closes with 1000 and stops reconnecting.</summary>
#pragma warning disable RS0027 // Shipped with its optional token; the overload with a code takes its token as WebSocket.CloseAsync does.
    Task DisconnectAsync(CancellationToken cancellationToken = default);
#pragma warning restore RS0027

    /// <summary>
    /// Closes with <paramref name="closeStatus"/> and <paramref name="reason"/> and stops reconnecting.
    /// </summary>
    /// <param name="closeStatus">1000-1003, 1007-1014, or an application's code from 3000 to 4999.</param>
    /// <param name="reason">At most 123 UTF-8 bytes, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops waiting; the connection still closes.</param>
    /// <exception cref="ArgumentOutOfRangeException">A code that cannot be sent (1005, 1006, 1015, reserved ones).</exception>
    /// <exception cref="ArgumentException">A reason longer than 123 UTF-8 bytes.</exception>
    Task DisconnectAsync(System.Net.WebSockets.WebSocketCloseStatus closeStatus, string? reason, CancellationToken cancellationToken);

    /// <summary>Drops the current connection (if any) and reconnects now, skipping any backoff wait.</summary>
    Task ReconnectNowAsync(CancellationToken cancellationToken = default);

    /// <summary>Counters and connection facts.</summary>
    ClientStatistics GetStatistics();
}
