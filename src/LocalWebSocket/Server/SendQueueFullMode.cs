namespace LocalWebSocket.Server;

/// <summary>What happens when a message is queued for a client whose send queue is full (a slow consumer).</summary>
public enum SendQueueFullMode
{
    /// <summary>
    /// Close the slow client with 1013 (try again later): it loses nothing silently, and a reconnecting
    /// client comes back. The default.
    /// </summary>
    Disconnect,

    /// <summary>Drop the oldest queued messages to make room (latest state wins, e.g. positions in a game).</summary>
    DropOldest,

    /// <summary>Drop the new message.</summary>
    DropNewest,
}
