using System.Numerics;

namespace LocalWebSocket.Internal;

/// <summary>
/// A client connection's writes. A frame sent while the transport is free goes straight out; the frames
/// sent after it, until the sender awaits something, are copied into a buffer and written together by one
/// flush on the thread pool. A client sending many small messages spent about half its CPU in the send
/// syscall, one per frame (perf, bench/README.md): coalesced, a burst of frames costs two.
/// </summary>
/// <remarks>
/// <para>The flush is queued to the sending thread's own queue, so a sender on the thread pool (any
/// continuation of an <c>await</c>) flushes as soon as it awaits something. A lone message never waits
/// for it: it is the one that went straight out.</para>
/// <para>Frames come one at a time (the WebSocket holds its send lock until a write completes); the flush
/// runs beside them, hence the gate. At most <see cref="Limit"/> bytes wait: past that a sender waits for
/// the flush, so a peer that stops reading holds the sender back as the socket alone would, and a frame
/// too large to buffer goes straight out once nothing else is being written or waits to be.</para>
/// </remarks>
internal sealed class WriteBehind : IThreadPoolWorkItem
{
    /// <summary>The most bytes that wait for a flush before a sender has to wait too.</summary>
    internal const int Limit = 64 * 1024;

    private const int InitialSize = 4096;

    private readonly ClientConnectionStream _stream;
    private readonly Lock _gate = new();

    private byte[]? _pending;
    private int _pendingCount;

    // The buffer the flush wrote last, kept for the next swap: a client's one connection keeps its buffers.
    private byte[]? _spare;

    // A flush is queued or running: small frames sent meanwhile wait for it.
    private bool _flushQueued;

    // A write is under way, the flush's or a sender's own: nothing else may write to the transport.
    private bool _transportBusy;

    // That write waits for the transport to take its data, which a peer that stopped reading may never do.
    private bool _waitingOnTransport;
    private bool _closeRequested;
    private Exception? _failure;

    // Senders whose frame does not fit in the buffer wait here for the transport to be free and the buffer empty.
    private TaskCompletionSource? _transportFree;

    public WriteBehind(ClientConnectionStream stream) => _stream = stream;

    public ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        TaskCompletionSource? wait = null;
        lock (_gate)
        {
            ThrowIfUnusableLocked();
            var free = !_transportBusy && _pendingCount == 0;
            if (free && (!_flushQueued || frame.Length > Limit))
            {
                _transportBusy = true;
            }
            else if (_pendingCount + frame.Length <= Limit)
            {
                AppendLocked(frame.Span);
                if (!_flushQueued && !_transportBusy)
                {
                    QueueFlushLocked();
                }

                return ValueTask.CompletedTask;
            }
            else
            {
                wait = _transportFree ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        return wait is null ? WriteDirectly(frame, cancellationToken) : WaitThenWriteAsync(wait.Task, frame, cancellationToken);
    }

    /// <summary>
    /// Called when the stream is disposed: true if the transport can be closed now, false if it is closed once
    /// what is being written and what is buffered (a close frame, say) are written.
    /// </summary>
    public bool CloseNowOrAfterFlush()
    {
        lock (_gate)
        {
            _closeRequested = true;
            return (!_transportBusy && !_flushQueued) || _waitingOnTransport;
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = FlushAsync();

    private void QueueFlushLocked()
    {
        _flushQueued = true;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    private async ValueTask WaitThenWriteAsync(Task transportFree, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await transportFree.WaitAsync(cancellationToken).ConfigureAwait(false);
        await WriteAsync(frame, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A sender writes its own frame, the transport being its.</summary>
    private ValueTask WriteDirectly(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        ValueTask write;
        try
        {
            write = _stream.WriteToTransportAsync(frame, cancellationToken);
        }
        catch (Exception exception)
        {
            Fail(exception);
            throw;
        }

        if (write.IsCompletedSuccessfully)
        {
            FinishDirectWrite();
            return ValueTask.CompletedTask;
        }

        return AwaitDirectWriteAsync(write);
    }

    private async ValueTask AwaitDirectWriteAsync(ValueTask write)
    {
        WaitingOnTransport();
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Fail(exception);
            throw;
        }

        FinishDirectWrite();
    }

    /// <summary>
    /// A sender's own write is over: the frames it sends next, until it awaits something, wait for a flush.
    /// </summary>
    private void FinishDirectWrite()
    {
        bool close = false;
        lock (_gate)
        {
            _transportBusy = false;
            _waitingOnTransport = false;
            if (_closeRequested && _pendingCount == 0)
            {
                close = FreeTransportLocked();
            }
            else if (!_flushQueued)
            {
                QueueFlushLocked();
            }
        }

        CloseTransportIf(close);
    }

    /// <summary>Writes what is buffered, and what was buffered meanwhile, until nothing is left.</summary>
    private async Task FlushAsync()
    {
        while (TryTakePending(out var buffer, out var count))
        {
            try
            {
                var write = _stream.WriteToTransportAsync(buffer.AsMemory(0, count), CancellationToken.None);
                if (!write.IsCompletedSuccessfully)
                {
                    WaitingOnTransport();
                    await write.ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                Fail(exception);
            }

            lock (_gate)
            {
                _transportBusy = false;
                _waitingOnTransport = false;
                _spare = buffer;
            }
        }
    }

    /// <summary>Takes what is buffered for the flush to write; false when the flush is over.</summary>
    private bool TryTakePending(out byte[] buffer, out int count)
    {
        bool close;
        lock (_gate)
        {
            if (!_transportBusy && _pendingCount > 0 && _failure is null)
            {
                (buffer, count) = (_pending!, _pendingCount);
                (_pending, _spare, _pendingCount) = (_spare, null, 0);
                _transportBusy = true;
                return true;
            }

            // A sender writing a frame of its own queues a flush again when it is done.
            _flushQueued = false;
            close = !_transportBusy && FreeTransportLocked();
        }

        CloseTransportIf(close);
        (buffer, count) = ([], 0);
        return false;
    }

    /// <summary>A write has to wait for the transport: a close asked for meanwhile closes it now.</summary>
    private void WaitingOnTransport()
    {
        bool closeNow;
        lock (_gate)
        {
            _waitingOnTransport = true;
            closeNow = _closeRequested;
        }

        if (closeNow)
        {
            _stream.CloseTransport();
        }
    }

    /// <summary>
    /// Nothing is written or buffered any more: wakes senders waiting for room. True if the transport is to
    /// be closed now (the stream was disposed meanwhile); the caller does that once out of the gate.
    /// </summary>
    private bool FreeTransportLocked()
    {
        _transportFree?.TrySetResult();
        _transportFree = null;
        return _closeRequested;
    }

    /// <summary>
    /// A write failed: what is buffered is lost, later sends fail, and the transport closes, so the receiving
    /// side learns at once that the connection is gone rather than at its next keep-alive.
    /// </summary>
    private void Fail(Exception exception)
    {
        lock (_gate)
        {
            _failure ??= exception;
            _pendingCount = 0;
            _transportBusy = false;
            _waitingOnTransport = false;
            FreeTransportLocked();
        }

        _stream.CloseTransport();
    }

    private void CloseTransportIf(bool close)
    {
        if (close)
        {
            _stream.CloseTransport();
        }
    }

    private void ThrowIfUnusableLocked()
    {
        if (_failure is not null)
        {
            throw new IOException("Unable to write data to the transport connection: an earlier write failed.", _failure);
        }

        ObjectDisposedException.ThrowIf(_closeRequested, _stream);
    }

    private void AppendLocked(ReadOnlySpan<byte> frame)
    {
        var buffer = _pending;
        if (buffer is null || buffer.Length - _pendingCount < frame.Length)
        {
            var grown = new byte[Math.Max(InitialSize, (int)BitOperations.RoundUpToPowerOf2((uint)(_pendingCount + frame.Length)))];
            buffer?.AsSpan(0, _pendingCount).CopyTo(grown);
            _pending = buffer = grown;
        }

        frame.CopyTo(buffer.AsSpan(_pendingCount));
        _pendingCount += frame.Length;
    }
}
