using System.Net.WebSockets;

namespace LocalWebSocket.Server;

/// <summary>A client joined the server.</summary>
public sealed class ClientConnectedEventArgs(ConnectedClient client) : EventArgs
{
    /// <summary>The client that joined.</summary>
    public ConnectedClient Client { get; } = client;
}

/// <summary>A client left the server, by a close handshake or because its connection broke.</summary>
public sealed class ClientDisconnectedEventArgs(
    ConnectedClient client, WebSocketCloseStatus? closeStatus, string? closeDescription, Exception? error) : EventArgs
{
    /// <summary>The client that left.</summary>
    public ConnectedClient Client { get; } = client;

    /// <summary>The close code of the close handshake, or <see langword="null"/> when the connection broke without one (1006).</summary>
    public WebSocketCloseStatus? CloseStatus { get; } = closeStatus;

    /// <summary>The close reason, when there was one.</summary>
    public string? CloseDescription { get; } = closeDescription;

    /// <summary>What broke the connection, when something did.</summary>
    public Exception? Error { get; } = error;
}

/// <summary>A client sent a message.</summary>
public sealed class MessageReceivedEventArgs(ConnectedClient client, WebSocketMessage message) : EventArgs
{
    /// <summary>The sender.</summary>
    public ConnectedClient Client { get; } = client;

    /// <summary>The message, text or binary as it was sent.</summary>
    public WebSocketMessage Message { get; } = message;
}

/// <summary>The set of connected clients changed.</summary>
public sealed class ClientsChangedEventArgs(IReadOnlyList<ConnectedClient> clients) : EventArgs
{
    /// <summary>Every client connected now.</summary>
    public IReadOnlyList<ConnectedClient> Clients { get; } = clients;
}
