using System.Net.WebSockets;

namespace LocalWebSocket.Client;

/// <summary>A client's connection state changed.</summary>
public sealed class ConnectionStateChangedEventArgs(
    ConnectionState state,
    ConnectionState previousState,
    WebSocketCloseStatus? closeStatus = null,
    string? closeDescription = null,
    LocalWebSocketException? error = null) : EventArgs
{
    /// <summary>The new state.</summary>
    public ConnectionState State { get; } = state;

    /// <summary>The state before.</summary>
    public ConnectionState PreviousState { get; } = previousState;

    /// <summary>On <see cref="ConnectionState.Disconnected"/>: the close code, when a close handshake happened.</summary>
    public WebSocketCloseStatus? CloseStatus { get; } = closeStatus;

    /// <summary>On <see cref="ConnectionState.Disconnected"/>: the close reason, when there was one.</summary>
    public string? CloseDescription { get; } = closeDescription;

    /// <summary>On <see cref="ConnectionState.Disconnected"/>: what went wrong, when something did (a refusal, a broken connection).</summary>
    public LocalWebSocketException? Error { get; } = error;

    /// <inheritdoc />
    public override string ToString() =>
        State + (CloseStatus is { } status ? (string.IsNullOrEmpty(CloseDescription) ? $" ({(int)status})" : $" ({(int)status} {CloseDescription})") : "") + (Error is { } error ? $": {error.Code}: {error.Message}" : "");
}
