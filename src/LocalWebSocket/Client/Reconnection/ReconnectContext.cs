using System.Net.WebSockets;

namespace LocalWebSocket.Client;

/// <summary>What a reconnect policy knows when it picks the delay before the next attempt.</summary>
public readonly record struct ReconnectContext
{
    /// <summary>The attempt about to be made: 1 for the first one after a drop.</summary>
    public required int Attempt { get; init; }

    /// <summary>The delay the policy chose for the previous attempt; zero before the first.</summary>
    public required TimeSpan PreviousDelay { get; init; }

    /// <summary>Time since the connection was lost (or since the first attempt failed, for a first connect).</summary>
    public required TimeSpan SinceDisconnected { get; init; }

    /// <summary>Time since the last successful connection, or null when there was none.</summary>
    public required TimeSpan? SinceLastConnected { get; init; }

    /// <summary>Why the last connection or attempt failed, when it was an error.</summary>
    public LocalWebSocketException? LastError { get; init; }

    /// <summary>The close code of the lost connection, when it ended with a close handshake.</summary>
    public WebSocketCloseStatus? LastCloseStatus { get; init; }
}
