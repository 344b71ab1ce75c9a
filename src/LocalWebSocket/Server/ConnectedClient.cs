using System.Net;
using System.Net.WebSockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Server;

/// <summary>
/// A client connected to a <see cref="LocalWebSocketServer"/>: its identity, the details it sent, and the
/// way to send it messages or disconnect it.
/// </summary>
/// <remarks>
/// All members are thread-safe. Messages sent to a client wait in its bounded send queue and are written
/// by one writer in order; a full queue is handled by <see cref="LocalWebSocketServerOptions.SendQueueFullMode"/>.
/// </remarks>
public sealed partial class ConnectedClient
{
    private readonly LocalWebSocketServer _server;
    private readonly LocalWebSocketServerOptions _options;
    private readonly WebSocket _webSocket;
    private readonly ConnectionStream _stream;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal ConnectedClient(
        LocalWebSocketServer server,
        LocalWebSocketServerOptions options,
        string id,
        IReadOnlyDictionary<string, string> details,
        IPEndPoint remoteEndPoint,
        DateTimeOffset connectedAt,
        string? subProtocol,
        WebSocket webSocket,
        ConnectionStream stream)
    {
        _server = server;
        _options = options;
        Id = id;
        Details = details;
        RemoteEndPoint = remoteEndPoint;
        ConnectedAt = connectedAt;
        SubProtocol = subProtocol;
        _webSocket = webSocket;
        _stream = stream;
    }

    /// <summary>The server's own id for this connection: unique, also across restarts (a version 7 GUID).</summary>
    public string Id { get; }

    /// <summary>The details the client sent as query parameters of its <c>/ws</c> request.</summary>
    public IReadOnlyDictionary<string, string> Details { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>When the client joined.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>The negotiated subprotocol, if any.</summary>
    public string? SubProtocol { get; }

    /// <summary>Whether the client is connected and no close has started.</summary>
    public bool IsConnected => !Volatile.Read(ref _closing) && !_completion.Task.IsCompleted;

    /// <summary>Completes when the client has left and its connection is released.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Closes the connection with <paramref name="closeStatus"/> after the messages already queued for it,
    /// and waits until the client has left (at most <see cref="LocalWebSocketServerOptions.CloseTimeout"/>,
    /// after which the connection is dropped).
    /// </summary>
    /// <param name="closeStatus">The close code, 1000 by default.</param>
    /// <param name="reason">The close reason (at most 123 UTF-8 bytes).</param>
    /// <param name="cancellationToken">Stops waiting; the close goes on.</param>
    public Task DisconnectAsync(
        WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure,
        string? reason = null,
        CancellationToken cancellationToken = default)
    {
        if (reason is not null && System.Text.Encoding.UTF8.GetByteCount(reason) > 123)
        {
            throw new ArgumentException("A close reason is at most 123 UTF-8 bytes.", nameof(reason));
        }

        RequestClose(closeStatus, reason, discardQueued: false);
        return Completion.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Id} ({RemoteEndPoint})";

    /// <summary>Drops the connection at once, without a close handshake.</summary>
    internal void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already cleaned up.
        }
    }
}
