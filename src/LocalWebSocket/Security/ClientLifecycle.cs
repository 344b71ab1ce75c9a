using LocalWebSocket.Server;

namespace LocalWebSocket.Security;

/// <summary>
/// Connection lifecycle hooks. They run off the receive loops, one after the other per client (connected
/// always before disconnected, each exactly once), bounded by <see cref="LocalWebSocketServerOptions.HookTimeout"/>:
/// a slow or throwing hook is logged and never delays routing or leaves a ghost client.
/// </summary>
public interface IClientLifecycleHandler
{
    /// <summary>A client joined.</summary>
    ValueTask OnConnectedAsync(ConnectedClient client, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>A client left.</summary>
    ValueTask OnDisconnectedAsync(ClientDisconnectedEventArgs disconnection, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
