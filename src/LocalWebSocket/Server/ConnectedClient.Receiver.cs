using System.Buffers;
using System.Net.WebSockets;
using LocalWebSocket.Internal;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

public sealed partial class ConnectedClient
{
    // Only the receive loop touches them. The batch is made on the first message this client sends.
    private MessageTally _received;
    private FanOutBatch? _fanOut;

    /// <summary>
    /// Receives until the connection ends, hands each whole message to the server, and then leaves the
    /// server. It waits for data without holding a buffer, so an idle client costs no receive buffer.
    /// </summary>
    internal async Task RunAsync()
    {
        Exception? error = null;

        // The wait for the next message, where an idle connection spends its life, takes no token: a token
        // costs a registration in the WebSocket and another in the socket for every connection. Abort()
        // aborts the WebSocket instead, which ends that wait (and any other) as cancelling it would.
        try
        {
            while (true)
            {
                var next = _webSocket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (!next.IsCompleted || _fanOut is { IsDue: true })
                {
                    // Everything that arrived together has been routed: send what it produced before waiting.
                    EndBatch();
                }

                var first = await next.ConfigureAwait(false);
                if (first.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (!await ReceiveMessageAsync(first).ConfigureAwait(false))
                {
                    break;
                }

                await WaitForRelayAsync().ConfigureAwait(false);
            }

            if (_webSocket.State == WebSocketState.CloseReceived)
            {
                // The peer started the close: answer it now, dropping what was still queued for it.
                RequestClose(EchoableStatus(_webSocket.CloseStatus), _webSocket.CloseStatusDescription, discardQueued: true);
                await CloseWrittenTask.ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (IsAborted
            && exception is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
        {
            // Aborted: by the server, a close timeout, or a failed write.
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // OperationCanceledException from elsewhere than our token: the WebSocket's keep-alive got no pong.
            error = exception;
            _server.Logger.ConnectionBroke(exception, Id);
        }
        catch (Exception exception)
        {
            // Nobody awaits this loop: whatever went wrong ends this connection only, and is logged.
            error = exception;
            _server.Logger.ConnectionError(exception, Id);
        }
        finally
        {
            EndBatch();
            if (_stream.HasHeldClose)
            {
                await SendHeldCloseAsync().ConfigureAwait(false);
            }

            await LeaveAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The WebSocket failed the connection on bad input, and the stream holds its close frame: the messages
    /// still queued for this client go out first (by its writer if one runs or is due, else from here), then
    /// the close. Bounded by the close timeout.
    /// </summary>
    private async Task SendHeldCloseAsync()
    {
        bool writerDue;
        lock (_sendQueue)
        {
            writerDue = _draining;
            _draining = true;
        }

        try
        {
            if (!writerDue)
            {
                try
                {
                    await SendQueuedThenHeldCloseAsync(null, 0, 0).ConfigureAwait(false);
                }
                finally
                {
                    SignalCloseWritten();
                }
            }

            // A writer that runs sees the held close at its next send or at its end, and writes it.
            await CloseWrittenTask.WaitAsync(_options.CloseTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
            _server.Logger.CloseNotWritten(exception, Id);
        }
    }

    /// <summary>Reads one message whose first frame has arrived; false when the connection is closing.</summary>
    private async ValueTask<bool> ReceiveMessageAsync(ValueWebSocketReceiveResult first)
    {
        var message = await MessageAssembler.ReceiveAsync(_webSocket, first, ReadOnlyMemory<byte>.Empty, _options.MaxMessageSize, CancellationToken.None, this)
            .ConfigureAwait(false);
        switch (message.Outcome)
        {
            case AssemblyOutcome.Complete:
                await _server.OnMessageReceivedAsync(this, _fanOut ??= new FanOutBatch(), message.Type, message.Buffer!, message.Length).ConfigureAwait(false);
                return true;

            case AssemblyOutcome.TooLarge:
                _server.Counters.CountOversized();
                _server.Logger.MessageTooBig(Id, _options.MaxMessageSize);
                RequestClose(WebSocketCloseStatus.MessageTooBig, "Message too big", discardQueued: true);
                await DiscardUntilCloseAsync().ConfigureAwait(false);
                return false;

            default:
                return false;
        }
    }

    /// <summary>After we sent a close, reads and drops data until the peer's close (bounded by the close timeout).</summary>
    private async Task DiscardUntilCloseAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var result = await _webSocket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None).ConfigureAwait(false);
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

    private static WebSocketCloseStatus EchoableStatus(WebSocketCloseStatus? received) =>
        received ?? WebSocketCloseStatus.NormalClosure;

    private async Task LeaveAsync(Exception? error)
    {
        WebSocketCloseStatus? status;
        string? description;
        lock (_sendQueue)
        {
            _closing = true;
            ClearQueueLocked();
            status = _webSocket.CloseStatus ?? (_closeSent ? _closeStatus : null);
            description = _webSocket.CloseStatus is not null ? _webSocket.CloseStatusDescription : (_closeSent ? _closeReason : null);
        }

        // The server closes the TCP connection first after a close handshake (RFC 6455 section 7.1.1).
        Abort();
        _webSocket.Dispose();
        _stream.DiscardHeldClose();
        await _stream.DisposeAsync().ConfigureAwait(false);
        AddressSlot?.Dispose();
        _server.OnConnectionClosed();
        _server.OnClientLeft(this, status, description, status is null ? error : null);

        // Completion completes only now, once the server has let the client go and told everyone.
        TaskCompletionSource? completion;
        lock (_sendQueue)
        {
            _left = true;
            completion = _completion;
            _closeTimer?.Dispose();
        }

        completion?.TrySetResult();
    }

    /// <summary>Counts a message received, in the server's counters once the loop has handled what it read.</summary>
    internal void CountReceived(int bytes) => _received.Add(bytes);

    /// <summary>Tells the server's counters what this loop received since it last did.</summary>
    internal void FlushReceivedCount()
    {
        if (_received.TryTake(out var messages, out var bytes))
        {
            _server.Counters.CountReceived(messages, bytes);
        }
    }

    /// <summary>
    /// The receive loop is about to wait (for data, or for a receiver), or ends: what it counted goes to the
    /// server's counters, and the writers its routing woke start.
    /// </summary>
    private void EndBatch()
    {
        FlushReceivedCount();
        _fanOut?.Start();
    }

    /// <inheritdoc />
    void IReceiveWaitHook.BeforeWaiting() => EndBatch();
}
