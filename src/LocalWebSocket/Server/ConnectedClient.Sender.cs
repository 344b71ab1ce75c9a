using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using LocalWebSocket.Internal;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

public sealed partial class ConnectedClient
{
    /// <summary>At most this many messages are taken from the queue at once.</summary>
    private const int WriteBatchSize = 64;

    // Also the lock of this client's state (a monitor on the queue, not a Lock object: one object less per
    // connection, and it is rarely contended).
    private readonly Queue<OutgoingMessage> _sendQueue = new();

    // Made only when someone waits for the close to be written (rare): one object pair less per connection.
    private TaskCompletionSource? _closeWritten;
    private bool _closeWrittenOrAbandoned;
    // Set when the queue is cleared (a close that drops what was queued): the writer drops its batch too.
    private bool _queueDiscarded;
    private long _queuedBytes;

    // Starts "draining" so that nothing is written before the server has sent the 101; ReleaseSending clears it.
    private bool _draining = true;
    private bool _closing;
    private bool _closeSent;
    private WebSocketCloseStatus _closeStatus;
    private string? _closeReason;

    /// <summary>Messages waiting in this client's send queue.</summary>
    public int QueuedMessageCount
    {
        get
        {
            lock (_sendQueue)
            {
                return _sendQueue.Count;
            }
        }
    }

    /// <summary>Queues a text message for this client.</summary>
    /// <returns>Whether the message was queued: false when the client is closing or the queue dropped it.</returns>
    public bool Send(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EnqueueAndRelease(OutgoingMessage.FromText(text));
    }

    /// <summary>Queues a message (text or binary, as it is) for this client.</summary>
    /// <returns>Whether the message was queued: false when the client is closing or the queue dropped it.</returns>
    public bool Send(WebSocketMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return EnqueueAndRelease(OutgoingMessage.FromMessage(message));
    }

    /// <summary>Queues a message only this client gets: the caller's reference becomes the queue's.</summary>
    private bool EnqueueAndRelease(OutgoingMessage message)
    {
        var queued = false;
        try
        {
            queued = Enqueue(message, handOverReference: true);
            return queued;
        }
        finally
        {
            if (!queued)
            {
                message.Release();
            }
        }
    }

    /// <summary>Queues a message that may be shared with other clients.</summary>
    /// <param name="message">The message.</param>
    /// <param name="handOverReference">
    /// Whether the queue keeps the caller's reference to <paramref name="message"/> when it takes the message
    /// (one atomic operation less for each of two references), rather than adding its own.
    /// </param>
    /// <param name="batch">
    /// The batch of the receive loop that relays the message, if any: this client's writer, if the message
    /// wakes it, then starts with the batch, once that loop has routed all it read, so that a burst costs one write.
    /// </param>
    /// <returns>Whether the message was queued (and, with <paramref name="handOverReference"/>, the reference taken).</returns>
    internal bool Enqueue(OutgoingMessage message, bool handOverReference, FanOutBatch? batch = null)
    {
        var startDrain = false;
        lock (_sendQueue)
        {
            if (_closing)
            {
                return false;
            }

            if (_sendQueue.Count > 0
                && (_sendQueue.Count >= _options.SendQueueCapacity || _queuedBytes + message.Length > _options.SendQueueMaxBytes))
            {
                switch (_options.SendQueueFullMode)
                {
                    case SendQueueFullMode.DropNewest:
                        _server.Counters.CountDropped(1);
                        return false;

                    case SendQueueFullMode.DropOldest:
                        var dropped = 0;
                        while (_sendQueue.Count > 0
                            && (_sendQueue.Count >= _options.SendQueueCapacity || _queuedBytes + message.Length > _options.SendQueueMaxBytes))
                        {
                            var oldest = _sendQueue.Dequeue();
                            _queuedBytes -= oldest.Length;
                            oldest.Release();
                            dropped++;
                        }

                        _server.Counters.CountDropped(dropped);
                        OnQueueShrunkLocked();
                        break;

                    default:
                        _server.Counters.CountSlowClient();
                        startDrain = BeginCloseLocked(
                            (WebSocketCloseStatus)1013, "Send queue full", discardQueued: true);
                        _server.Logger.SlowClient(Id);
                        break;
                }

                if (_closing)
                {
                    if (startDrain)
                    {
                        ScheduleDrain();
                    }

                    return false;
                }
            }

            if (!handOverReference)
            {
                message.AddReference();
            }

            _sendQueue.Enqueue(message);
            _queuedBytes += message.Length;
            if (!_draining)
            {
                _draining = startDrain = true;
            }
        }

        if (startDrain)
        {
            if (batch is not null)
            {
                batch.Add(this);
            }
            else
            {
                ScheduleDrain();
            }
        }

        return true;
    }

    /// <summary>Lets the writer start, once the 101 response is out.</summary>
    internal void ReleaseSending()
    {
        bool startDrain;
        lock (_sendQueue)
        {
            startDrain = _sendQueue.Count > 0 || (_closing && !_closeSent);
            _draining = startDrain;
        }

        if (startDrain)
        {
            ScheduleDrain();
        }
    }

    /// <summary>Starts the close handshake: the close frame goes out after the queue, or at once when it is discarded.</summary>
    internal void RequestClose(WebSocketCloseStatus status, string? reason, bool discardQueued)
    {
        bool startDrain;
        lock (_sendQueue)
        {
            startDrain = BeginCloseLocked(status, reason, discardQueued);
        }

        if (startDrain)
        {
            ScheduleDrain();
        }
    }

    private bool BeginCloseLocked(WebSocketCloseStatus status, string? reason, bool discardQueued)
    {
        Debug.Assert(Monitor.IsEntered(_sendQueue), "The client's state is guarded by its queue's monitor.");
        if (_closing)
        {
            return false;
        }

        _closing = true;
        _closeStatus = status;
        _closeReason = reason;
        if (discardQueued)
        {
            ClearQueueLocked();
        }

        // A peer that never answers the close must not hold the connection: drop it after the timeout.
        if (_left)
        {
            return false;
        }

        _closeTimer = _time.CreateTimer(static client => ((ConnectedClient)client!).Abort(), this, _options.CloseTimeout, Timeout.InfiniteTimeSpan);

        if (_draining)
        {
            return false;
        }

        _draining = true;
        return true;
    }

    private void ClearQueueLocked()
    {
        Debug.Assert(Monitor.IsEntered(_sendQueue), "The client's state is guarded by its queue's monitor.");
        while (_sendQueue.TryDequeue(out var message))
        {
            message.Release();
        }

        _queuedBytes = 0;
        Volatile.Write(ref _queueDiscarded, true);
        OnQueueShrunkLocked();
        Debug.Assert(_sendQueue.Count == 0 && _queuedBytes == 0, "A cleared queue holds nothing.");
    }

    internal void ScheduleDrain() => _scheduler.Schedule(this);

    /// <summary>Called by the <see cref="SendScheduler"/> when this client's turn comes.</summary>
    internal void RunWriter() => _ = DrainAsync();

    /// <summary>
    /// The only writer of this connection. It drains everything queued, with the stream coalescing the
    /// frames, so a burst of messages costs one socket write; then it sends the close frame if one is due.
    /// </summary>
    private async Task DrainAsync()
    {
        // Messages are taken from the queue many at a time: the queue's lock is one atomic operation to take
        // and one to leave, which on a small echo were a good share of the server's work per message.
        var batch = ArrayPool<OutgoingMessage>.Shared.Rent(WriteBatchSize);
        var taken = 0;
        var written = 0;
        var sent = new MessageTally();
        try
        {
            // Frames are written without a cancellable token on purpose: with one, the WebSocket takes a slower
            // path with a registration per frame. (Either path flushes the stream after each frame; inside a
            // batch the stream leaves that to the batch's end.) An abort still ends a stuck write: it aborts
            // the WebSocket, which disposes the connection under the write.
            while (true)
            {
                while ((taken = TakeQueued(batch, out var queueEmptied)) > 0)
                {
                    for (written = 0; written < taken && !Volatile.Read(ref _queueDiscarded); written++)
                    {
                        // The last frame's write takes the batch along: the stream has no lock of its own, so
                        // only the WebSocket's writes (one at a time) may write what it coalesced. Messages
                        // queued meanwhile start a batch again.
                        if (queueEmptied && written == taken - 1)
                        {
                            _stream.EndBatch();
                        }
                        else
                        {
                            _stream.BeginBatch();
                        }

                        var message = batch[written];
                        await _webSocket.SendAsync(message.Payload, message.Type, _sendFlags, CancellationToken.None).ConfigureAwait(false);
                        sent.Add(message.Length);
                        message.Release();
                        batch[written] = null!;
                    }

                    // Left over only when the queue was discarded (a close that drops what was queued).
                    ReleaseTaken(batch, written, taken);
                    taken = 0;
                    FlushSent(ref sent);
                }

                // Normally ended already. If the queue was cleared under the loop, a close frame follows
                // (the only reason to clear it while the connection lives), and its write takes the batch.
                _stream.EndBatch();

                if (_stream.HasHeldClose)
                {
                    // The connection failed on bad input while this writer ran: what was queued, then its close.
                    await SendQueuedThenHeldCloseAsync(batch, 0, 0).ConfigureAwait(false);
                    SignalCloseWritten();
                    lock (_sendQueue)
                    {
                        _draining = false;
                        return;
                    }
                }

                bool sendClose;
                lock (_sendQueue)
                {
                    if (_sendQueue.Count > 0)
                    {
                        continue;
                    }

                    sendClose = _closing && !_closeSent;
                    _closeSent |= sendClose;
                    if (!sendClose)
                    {
                        _draining = false;
                        return;
                    }
                }

                if (_webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    _stream.BeginOwnClose();
                    try
                    {
                        await _webSocket.CloseOutputAsync(_closeStatus, _closeReason, CancellationToken.None).ConfigureAwait(false);
                    }
                    finally
                    {
                        _stream.EndOwnClose();
                    }
                }

                SignalCloseWritten();

                lock (_sendQueue)
                {
                    ClearQueueLocked();
                    _draining = false;
                    return;
                }
            }
        }
        catch (Exception exception)
        {
            if (_stream.HasHeldClose && exception is WebSocketException)
            {
                // Not a broken connection: the WebSocket failed it on bad input, and refuses sends since. What
                // this batch had left and the queue go out before its close frame.
                try
                {
                    await SendQueuedThenHeldCloseAsync(batch, written, taken).ConfigureAwait(false);
                }
                catch (Exception failure) when (failure is IOException or ObjectDisposedException or OperationCanceledException)
                {
                    exception = failure;
                }

                taken = 0;
            }

            // A failed write means the connection is gone: nothing more can be sent on it.
            if (exception is not OperationCanceledException)
            {
                _server.Logger.SendFailed(exception, Id);
            }

            ReleaseTaken(batch, written, taken);
            FlushSent(ref sent);
            lock (_sendQueue)
            {
                _closing = true;
                ClearQueueLocked();
                _draining = false;
            }

            SignalCloseWritten();
            Abort();
        }
        finally
        {
            ArrayPool<OutgoingMessage>.Shared.Return(batch);
        }
    }

    /// <summary>
    /// After the WebSocket failed the connection on bad input (its close frame held by the stream, see
    /// <see cref="ServerConnectionStream.HasHeldClose"/>): sends the messages of <paramref name="batch"/> from
    /// <paramref name="from"/> to <paramref name="count"/> and everything queued, then that close frame, so a
    /// message that arrived whole before the bad input (an echo, a relay) is not lost with the connection.
    /// Only the connection's writer, or the receive loop when no writer runs, calls it.
    /// </summary>
    /// <remarks>
    /// The connection's WebSocket refuses sends once it has sent (as far as it knows) its close, so the
    /// messages are framed by a WebSocket of their own over a memory stream: the BCL's framing still, and
    /// uncompressed, which is valid whatever was negotiated (RFC 7692 section 6). Nothing follows them.
    /// </remarks>
    private async Task SendQueuedThenHeldCloseAsync(OutgoingMessage[]? batch, int from, int count)
    {
        var messages = new List<OutgoingMessage>();
        for (var i = from; i < count; i++)
        {
            messages.Add(batch![i]);
            batch[i] = null!;
        }

        lock (_sendQueue)
        {
            _closing = true;
            _closeSent = true;
            if (!Volatile.Read(ref _queueDiscarded))
            {
                messages.AddRange(_sendQueue);
            }
            else
            {
                messages.ForEach(message => message.Release());
                messages.Clear();
                foreach (var message in _sendQueue)
                {
                    message.Release();
                }
            }

            _sendQueue.Clear();
            _queuedBytes = 0;
            OnQueueShrunkLocked();
        }

        var sent = new MessageTally();
        try
        {
            using var frames = new MemoryStream();
            using var framer = WebSocket.CreateFromStream(frames, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
            foreach (var message in messages)
            {
                await framer.SendAsync(message.Payload, message.Type, WebSocketMessageFlags.EndOfMessage, CancellationToken.None).ConfigureAwait(false);
                sent.Add(message.Length);
            }

            await _stream.WriteFramesThenHeldCloseAsync(frames.GetBuffer().AsMemory(0, (int)frames.Length), CancellationToken.None).ConfigureAwait(false);
            FlushSent(ref sent);
        }
        finally
        {
            foreach (var message in messages)
            {
                message.Release();
            }
        }
    }

    private void FlushSent(ref MessageTally sent)
    {
        if (sent.TryTake(out var messages, out var bytes))
        {
            _server.Counters.CountSent(messages, bytes);
        }
    }

    /// <summary>Releases the messages of a batch from <paramref name="from"/> on, which were not written.</summary>
    internal static void ReleaseTaken(OutgoingMessage[] batch, int from, int count)
    {
        for (var i = from; i < count; i++)
        {
            batch[i].Release();
            batch[i] = null!;
        }
    }

    /// <summary>Completes when the writer has sent the close frame, or has given up on the connection.</summary>
    private Task CloseWrittenTask
    {
        get
        {
            lock (_sendQueue)
            {
                return TaskOnDemand(ref _closeWritten, _closeWrittenOrAbandoned);
            }
        }
    }

    private void SignalCloseWritten()
    {
        TaskCompletionSource? waiting;
        lock (_sendQueue)
        {
            _closeWrittenOrAbandoned = true;
            waiting = _closeWritten;
        }

        waiting?.TrySetResult();
    }

    /// <summary>
    /// Moves up to a batch of queued messages into <paramref name="batch"/>; <paramref name="queueEmptied"/>
    /// tells whether the queue is empty now.
    /// </summary>
    internal int TakeQueued(OutgoingMessage[] batch, out bool queueEmptied)
    {
        lock (_sendQueue)
        {
            var count = Math.Min(_sendQueue.Count, WriteBatchSize);
            for (var i = 0; i < count; i++)
            {
                var message = _sendQueue.Dequeue();
                _queuedBytes -= message.Length;
                batch[i] = message;
            }

            queueEmptied = _sendQueue.Count == 0;
            OnQueueShrunkLocked();
            return count;
        }
    }
}
