using System.Net.WebSockets;

namespace LocalWebSocket.Client;

/// <summary>A client's counters and connection facts, read at one moment.</summary>
public sealed record ClientStatistics
{
    /// <summary>The connection state.</summary>
    public required ConnectionState State { get; init; }

    /// <summary>The URL of the current or last connection.</summary>
    public Uri? Url { get; init; }

    /// <summary>Messages written to the server.</summary>
    public long MessagesSent { get; init; }

    /// <summary>Payload bytes written to the server (UTF-8 bytes for text, not characters).</summary>
    public long BytesSent { get; init; }

    /// <summary>Messages received from the server.</summary>
    public long MessagesReceived { get; init; }

    /// <summary>Payload bytes received from the server.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Successful connections, the first one included.</summary>
    public long Connects { get; init; }

    /// <summary>Reconnect attempts made.</summary>
    public long ReconnectAttempts { get; init; }

    /// <summary>Reconnect attempts that succeeded.</summary>
    public long SuccessfulReconnects { get; init; }

    /// <summary>Connections that ended, for any reason.</summary>
    public long Disconnects { get; init; }

    /// <summary>The close code of the last connection that ended with a close handshake.</summary>
    public WebSocketCloseStatus? LastCloseStatus { get; init; }

    /// <summary>The close reason of that connection.</summary>
    public string? LastCloseDescription { get; init; }

    /// <summary>When the last connection was made.</summary>
    public DateTimeOffset? LastConnectedAt { get; init; }

    /// <summary>The reconnect attempt under way or waited for; 0 when not reconnecting.</summary>
    public int CurrentAttempt { get; init; }

    /// <summary>When the next reconnect attempt is due, while waiting for one.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>Messages waiting in the outbox.</summary>
    public int QueuedMessages { get; init; }
}
