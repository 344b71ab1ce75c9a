namespace LocalWebSocket.Client;

/// <summary>What <see cref="LocalWebSocketClient.SendAsync(string, CancellationToken)"/> does while the client is not connected.</summary>
public enum OfflineSendMode
{
    /// <summary>Throw <see cref="LocalWebSocketException"/> with <see cref="LocalWebSocketErrorCode.NotConnected"/>. The default.</summary>
    Throw,

    /// <summary>
    /// While connecting or reconnecting, wait in a bounded outbox that is sent in order, once, right after
    /// the next connection (and its <see cref="LocalWebSocketClientOptions.AfterConnect"/> hook). The send
    /// completes when the message is written; it fails if the client disconnects or gives up first, and at
    /// once with <see cref="LocalWebSocketErrorCode.OutboxFull"/> when the outbox is full. Nothing is dropped
    /// silently.
    /// </summary>
    Queue,
}
