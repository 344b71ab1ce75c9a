namespace LocalWebSocket.Client;

/// <summary>Where a <see cref="LocalWebSocketClient"/>'s connection stands.</summary>
public enum ConnectionState
{
    /// <summary>Not connected: never connected, disconnected, refused, or broken.</summary>
    Disconnected,

    /// <summary>A connection attempt is under way.</summary>
    Connecting,

    /// <summary>Connected: messages can be sent and arrive.</summary>
    Connected,

    /// <summary>A close handshake started by this client is under way.</summary>
    Disconnecting,
}
