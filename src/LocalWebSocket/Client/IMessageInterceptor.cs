namespace LocalWebSocket.Client;

/// <summary>
/// Middleware on a client's messages. Sent messages pass the interceptors in list order; received ones in
/// reverse order (the last one added is nearest the network on the way in and out). Returning null drops
/// the message; returning another message replaces it.
/// </summary>
public interface IMessageInterceptor
{
    /// <summary>Sees, changes or drops a message before it is sent (or queued in the outbox).</summary>
    ValueTask<WebSocketMessage?> OnSendingAsync(WebSocketMessage message, CancellationToken cancellationToken) =>
        ValueTask.FromResult<WebSocketMessage?>(message);

    /// <summary>Sees, changes or drops a received message before the events and streams get it.</summary>
    ValueTask<WebSocketMessage?> OnReceivedAsync(WebSocketMessage message, CancellationToken cancellationToken) =>
        ValueTask.FromResult<WebSocketMessage?>(message);
}
