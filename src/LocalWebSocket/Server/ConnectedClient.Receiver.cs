using System.Buffers;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

public sealed partial class ConnectedClient
{
    /// <summary>First buffer rented for a message; most messages on a LAN app fit.</summary>
    private const int InitialMessageBufferSize = 4096;

    /// <summary>
    /// Receives until the connection ends, hands each whole message to the server, and then leaves the
    /// server. It waits for data without holding a buffer, so an idle client costs no receive buffer.
    /// </summary>
    internal async Task RunAsync()
    {
        var token = _abort.Token;
        Exception? error = null;
        try
        {
            while (true)
            {
                var first = await _webSocket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                if (first.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (!await ReceiveMessageAsync(first, token).ConfigureAwait(false))
                {
                    break;
                }
            }

            if (_webSocket.State == WebSocketState.CloseReceived)
            {
                // The peer started the close: answer it now, dropping what was still queued for it.
                RequestClose(EchoableStatus(_webSocket.CloseStatus), _webSocket.CloseStatusDescription, discardQueued: true);
                await WaitForCloseSentAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Aborted: by the server, a close timeout, or a failed write.
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
        {
            error = exception;
            _server.Logger.LogDebug(exception, "Connection of client {ClientId} broke.", Id);
        }
        finally
        {
            await LeaveAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>Reads one message whose first frame has arrived; false when the connection is closing.</summary>
    private async ValueTask<bool> ReceiveMessageAsync(ValueWebSocketReceiveResult first, CancellationToken token)
    {
        var type = first.MessageType;
        var maxSize = _options.MaxMessageSize;

        // One byte past the limit is room enough to notice that a message is too large.
        var limit = (int)Math.Min((long)maxSize + 1, Array.MaxLength);
        var buffer = ArrayPool<byte>.Shared.Rent(first.EndOfMessage ? 1 : Math.Min(InitialMessageBufferSize, limit));
        var length = 0;
        var endOfMessage = first.EndOfMessage;
        try
        {
            while (!endOfMessage)
            {
                if (length == buffer.Length)
                {
                    var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit));
                    buffer.AsSpan(0, length).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                }

                var room = Math.Min(buffer.Length, limit) - length;
                var result = await _webSocket.ReceiveAsync(buffer.AsMemory(length, room), token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return false;
                }

                length += result.Count;
                endOfMessage = result.EndOfMessage;
                if (length > maxSize)
                {
                    _server.Counters.CountOversized();
                    _server.Logger.LogInformation("Client {ClientId} sent a message over {MaxMessageSize} bytes; closing with 1009.", Id, maxSize);
                    RequestClose(WebSocketCloseStatus.MessageTooBig, "Message too big", discardQueued: true);
                    await DiscardUntilCloseAsync(token).ConfigureAwait(false);
                    return false;
                }
            }

            var owned = buffer;
            buffer = null;
            _server.OnMessageReceived(this, type, owned, length);
            return true;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>After we sent a close, reads and drops data until the peer's close (bounded by the close timeout).</summary>
    private async Task DiscardUntilCloseAsync(CancellationToken token)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var result = await _webSocket.ReceiveAsync(scratch.AsMemory(), token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>The receive side has nothing left to read: it waits for the writer to send the close.</summary>
    private Task WaitForCloseSentAsync(CancellationToken token) => _closeWritten.Task.WaitAsync(token);

    private static WebSocketCloseStatus EchoableStatus(WebSocketCloseStatus? received) =>
        received ?? WebSocketCloseStatus.NormalClosure;

    private async Task LeaveAsync(Exception? error)
    {
        WebSocketCloseStatus? status;
        string? description;
        lock (_sendGate)
        {
            _closing = true;
            ClearQueueLocked();
            status = _webSocket.CloseStatus ?? (_closeSent ? _closeStatus : null);
            description = _webSocket.CloseStatus is not null ? _webSocket.CloseStatusDescription : (_closeSent ? _closeReason : null);
        }

        // The server closes the TCP connection first after a close handshake (RFC 6455 section 7.1.1).
        _abort.Cancel();
        _webSocket.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
        _abort.Dispose();

        _server.OnClientLeft(this, status, description, status is null ? error : null);
        _completion.TrySetResult();
    }
}
