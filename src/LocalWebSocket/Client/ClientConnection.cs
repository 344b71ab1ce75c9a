using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Client;

/// <summary>How one connection of a client ended.</summary>
internal readonly record struct ConnectionEnd(WebSocketCloseStatus? Status, string? Description, LocalWebSocketException? Error);

/// <summary>
/// One WebSocket connection of a <see cref="LocalWebSocketClient"/>: its receive loop and its close. The
/// client orders the sends, since they outlive connections (the outbox).
/// </summary>
internal sealed class ClientConnection
{
    private const int ReceiveBufferSize = 4096;

    private readonly LocalWebSocketClient _owner;
    private readonly CancellationTokenSource _abort = new();
    private readonly int _maxMessageSize;
    private readonly WebSocketMessageFlags _sendFlags;
    private Task<ConnectionEnd>? _completion;
    private LocalWebSocketException? _pendingError;

    public ClientConnection(LocalWebSocketClient owner, WebSocket webSocket, int maxMessageSize, WebSocketMessageFlags sendFlags)
    {
        Debug.Assert(sendFlags.HasFlag(WebSocketMessageFlags.EndOfMessage), "Every message goes in one frame.");
        _owner = owner;
        WebSocket = webSocket;
        _maxMessageSize = maxMessageSize;
        _sendFlags = sendFlags;
    }

    public WebSocket WebSocket { get; }

    /// <summary>Completes when the connection has ended and been released.</summary>
    public Task<ConnectionEnd> Completion => _completion ?? throw new InvalidOperationException("Not started.");

    public void Start() => _completion = ReceiveLoopAsync();

    /// <summary>Drops the connection at once, without a close handshake.</summary>
    public void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already ended.
        }
    }

    /// <summary>Drops the connection if the peer has not finished the close handshake within <paramref name="timeout"/>.</summary>
    public void AbortAfter(TimeSpan timeout)
    {
        try
        {
            _abort.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
            // Already ended.
        }
    }

    /// <summary>
    /// Writes one message, in one frame. Sends may overlap: the WebSocket's own send lock writes one frame at a
    /// time, and a close waits for the frame being written.
    /// </summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        ValueTask sending;
        try
        {
            sending = WebSocket.SendAsync(data, type, _sendFlags, cancellationToken);
        }
        catch (Exception exception) when (IsConnectionFailure(exception, cancellationToken))
        {
            return ValueTask.FromException(SendFailed(exception));
        }

        // Nearly every send completes at once: no state machine for those.
        return sending.IsCompletedSuccessfully ? default : AwaitSendAsync(sending, cancellationToken);
    }

    private static async ValueTask AwaitSendAsync(ValueTask sending, CancellationToken cancellationToken)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        catch (Exception exception) when (IsConnectionFailure(exception, cancellationToken))
        {
            throw SendFailed(exception);
        }
    }

    /// <summary>
    /// Whether a send failed because the connection did. A write cut off by an abort (a close that timed out,
    /// a lost keep-alive) ends as a cancellation too: only the caller's own token makes it one for the caller.
    /// </summary>
    private static bool IsConnectionFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is WebSocketException or IOException or ObjectDisposedException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private static LocalWebSocketException SendFailed(Exception exception) =>
        new(LocalWebSocketErrorCode.ConnectionFailed, "The connection broke while sending.", null, exception);

    /// <summary>Sends a close frame; failures mean the connection is gone already.</summary>
    public async Task SendCloseAsync(WebSocketCloseStatus status, string? reason, TimeSpan timeout)
    {
        AbortAfter(timeout);
        try
        {
            if (WebSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var limit = new CancellationTokenSource(timeout);
                await WebSocket.CloseOutputAsync(status, reason, limit.Token).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The receive loop reports how the connection ended.
        }
    }

    private async Task<ConnectionEnd> ReceiveLoopAsync()
    {
        // Leave the connecting caller at once.
        await Task.Yield();
        var token = _abort.Token;
        LocalWebSocketException? error = null;

        // Receives take no token: with one, the WebSocket and the socket each register and unregister it for
        // every message. One registration aborts the WebSocket instead, which ends a receive as cancelling would.
        using var abortReceives = token.UnsafeRegister(static connection => ((ClientConnection)connection!).WebSocket.Abort(), this);
        try
        {
            // Unlike a server with thousands of idle clients, a client keeps one receive buffer for its connection:
            // a message that fits arrives in one receive, without a wait for data first.
            var receiveBuffer = new byte[ReceiveBufferSize];
            while (true)
            {
                var first = await WebSocket.ReceiveAsync(receiveBuffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (first.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (first.EndOfMessage && first.Count <= _maxMessageSize)
                {
                    var message = WebSocketMessage.FromOwned(first.MessageType, receiveBuffer.AsSpan(0, first.Count).ToArray());
                    await _owner.OnMessageReceivedAsync(message, token).ConfigureAwait(false);
                    continue;
                }

                var assembled = await MessageAssembler.ReceiveAsync(WebSocket, first, receiveBuffer.AsMemory(0, first.Count), _maxMessageSize, CancellationToken.None)
                    .ConfigureAwait(false);
                if (assembled.Outcome == AssemblyOutcome.Complete)
                {
                    // The application keeps messages: it gets an exact-size copy, and the pooled buffer goes back.
                    var data = assembled.Buffer.AsSpan(0, assembled.Length).ToArray();
                    ArrayPool<byte>.Shared.Return(assembled.Buffer!);
                    await _owner.OnMessageReceivedAsync(WebSocketMessage.FromOwned(assembled.Type, data), token).ConfigureAwait(false);
                    continue;
                }

                if (assembled.Outcome == AssemblyOutcome.TooLarge)
                {
                    _pendingError = new LocalWebSocketException(
                        LocalWebSocketErrorCode.MessageTooLarge, $"The server sent a message over {_maxMessageSize} bytes.");
                    await _owner.CloseConnectionAsync(this, WebSocketCloseStatus.MessageTooBig, "Message too big").ConfigureAwait(false);
                }

                break;
            }

            if (WebSocket.State == WebSocketState.CloseReceived)
            {
                await _owner.CloseConnectionAsync(this, WebSocket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, WebSocket.CloseStatusDescription)
                    .ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (token.IsCancellationRequested
            && exception is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // Aborted: a close timeout, a reconnect-now, or a keep-alive that got no pong.
        }
        catch (OperationCanceledException exception)
        {
            // The WebSocket aborted itself: its keep-alive got no pong in time.
            error = new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "The server stopped answering (keep-alive).", null, exception);
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
        {
            error = new LocalWebSocketException(
                exception is WebSocketException { WebSocketErrorCode: WebSocketError.Faulted or WebSocketError.InvalidMessageType or WebSocketError.HeaderError }
                    ? LocalWebSocketErrorCode.ProtocolError
                    : LocalWebSocketErrorCode.ConnectionFailed,
                "The connection broke: " + exception.Message,
                null,
                exception);
        }

        var status = WebSocket.CloseStatus;
        var description = WebSocket.CloseStatusDescription;
        error ??= _pendingError;
        if (error is null && status is { } closeStatus
            && (closeStatus == WebSocketCloseStatus.PolicyViolation || (int)closeStatus == ProtocolConstants.DartValidationFailedCloseCode))
        {
            error = new LocalWebSocketException(
                LocalWebSocketErrorCode.ValidationFailed,
                string.IsNullOrEmpty(description) ? "The server refused this client." : description);
        }

        if (error is null && status is null && !token.IsCancellationRequested)
        {
            error = new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "The connection ended without a close handshake.");
        }
        else if (error is null && status is null)
        {
            error = new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "The connection was dropped.");
        }

        WebSocket.Dispose();
        _abort.Dispose();
        return new ConnectionEnd(status, description, error);
    }
}
