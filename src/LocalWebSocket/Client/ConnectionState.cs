namespace LocalWebSocket.Client;

/// <summary>Where a <see cref="LocalWebSocketClient"/>'s connection stands.</summary>
public enum ConnectionState
{
    /// <summary>Not connected and not trying: never connected, disconnected, refused, or given up.</summary>
    Disconnected,

    /// <summary>A connection attempt is under way.</summary>
    Connecting,

    /// <summary>Connected: messages can be sent and arrive.</summary>
    Connected,

    /// <summary>The connection was lost and the reconnect policy is trying again (waiting or connecting).</summary>
    Reconnecting,

    /// <summary>Connected again after <see cref="Reconnecting"/>: messages can be sent and arrive.</summary>
    Reconnected,

    /// <summary>A close handshake started by this client is under way.</summary>
    Disconnecting,
}
