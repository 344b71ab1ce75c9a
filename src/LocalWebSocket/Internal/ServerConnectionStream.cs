using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace LocalWebSocket.Internal;

/// <summary>
/// A server's connection, one of thousands, mostly idle:
/// <list type="bullet">
/// <item>Reads wait for data before renting a buffer, so an idle connection holds no receive buffer; over a plain
/// socket a non-blocking receive comes first, since under load the data is usually there.</item>
/// <item>Writes between <see cref="BeginBatch"/> and <see cref="EndBatch"/> are coalesced, and the first write
/// after the batch's end takes them along, so a drain of several queued frames costs one socket write; writes
/// outside a batch (pongs, closes) go straight out.</item>
/// <item>A close frame the WebSocket sends on its own (failing the connection on bad input) is held, so that
/// messages which arrived whole before the bad input can still go out first (see ConnectedClient's salvage).</item>
/// </list>
/// </summary>
/// <remarks>
/// The write buffer is only touched by the WebSocket's writes, one frame at a time: that is why a batch does not
/// write at its end but leaves its frames to the next write (the writer ends the batch just before its last frame).
/// </remarks>
internal sealed class ServerConnectionStream : ConnectionStream
{
    /// <summary>A drain of small messages fits; bigger frames bypass the buffer.</summary>
    internal const int WriteBufferSize = 16 * 1024;

    private const byte CloseFrameStart = 0x88;

    private byte[]? _writeBuffer;
    private int _writeCount;
    private bool _batching;

    // The connection's writer sets _writingOwnClose around the close frames it sends; any other close frame is
    // the WebSocket failing the connection from its receive path, held in _heldClose rather than written.
    private bool _writingOwnClose;
    private byte[]? _heldClose;

    internal ServerConnectionStream(Stream inner, Socket? socket)
        : base(inner, socket)
    {
    }

    private protected override ValueTask<int> ReadUnbufferedAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        // A zero-byte read is the WebSocket waiting for data, where an idle connection spends its life:
        // handed straight to the transport, it keeps no state of ours while it waits.
        return destination.IsEmpty ? _inner.ReadAsync(destination, cancellationToken) : ReadWithoutHoldingAsync(destination, cancellationToken);
    }

    private async ValueTask<int> ReadWithoutHoldingAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            // Under TLS or a host's stream: wait for data without holding a buffer, then read what came.
            await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return await ReadFromTransportAsync(destination, cancellationToken).ConfigureAwait(false);
        }

        // Under load the data is usually there already: one non-blocking receive then, instead of a wait
        // and a receive. Otherwise wait for data without holding a buffer, and receive once it has come.
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (TryReceiveNow(destination.Span, out var received))
            {
                return received;
            }

            await _inner.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A non-blocking receive from the socket: false when nothing is there yet.</summary>
    private bool TryReceiveNow(Span<byte> destination, out int received)
    {
        EnsureNonBlocking();
        SocketError error;
        if (destination.Length >= ReadBufferSize)
        {
            received = _socket!.Receive(destination, SocketFlags.None, out error);
        }
        else
        {
            var buffer = _readBuffer ??= ArrayPool<byte>.Shared.Rent(ReadBufferSize);
            received = _socket!.Receive(buffer, SocketFlags.None, out error);
            if (error == SocketError.Success && received > 0)
            {
                _readOffset = 0;
                _readCount = received;
                received = CopyBuffered(destination);
            }
            else
            {
                ReleaseReadBuffer();
            }
        }

        return error switch
        {
            SocketError.Success => true,
            SocketError.WouldBlock => false,
            _ => throw new IOException($"Unable to read data from the transport connection: {error}.", new SocketException((int)error)),
        };
    }

    /// <summary>An idle connection holds no buffer: it goes back to the pool as soon as it is read out.</summary>
    private protected override void ReleaseReadBuffer()
    {
        var buffer = _readBuffer;
        _readBuffer = null;
        _readCount = 0;
        _readOffset = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Starts coalescing writes until <see cref="EndBatch"/>.</summary>
    public void BeginBatch() => Volatile.Write(ref _batching, true);

    /// <summary>
    /// Stops coalescing: the next write (the writer's last frame, or a pong) takes what was coalesced along,
    /// in one socket write when it fits.
    /// </summary>
    public void EndBatch() => Volatile.Write(ref _batching, false);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        // The WebSocket writes each frame in one write, so a write that starts a close frame (FIN, opcode 8,
        // unmasked: 0x88) is one; a byte comparison is all this costs the other writes.
        if (!source.IsEmpty && source.Span[0] == CloseFrameStart && !Volatile.Read(ref _writingOwnClose))
        {
            Volatile.Write(ref _heldClose, source.ToArray());
            return ValueTask.CompletedTask;
        }

        var batching = Volatile.Read(ref _batching);
        if (!batching && _writeCount == 0)
        {
            ReleaseWriteBuffer();
            return WriteToTransportAsync(source, cancellationToken);
        }

        var buffer = _writeBuffer ??= ArrayPool<byte>.Shared.Rent(WriteBufferSize);
        if (source.Length > buffer.Length - _writeCount)
        {
            return FlushThenWriteAsync(source, batching, cancellationToken);
        }

        source.Span.CopyTo(buffer.AsSpan(_writeCount));
        _writeCount += source.Length;
        return batching ? ValueTask.CompletedTask : FlushWriteBufferAsync(cancellationToken);
    }

    /// <summary>Whether the WebSocket has failed the connection and its close frame is held.</summary>
    public bool HasHeldClose => Volatile.Read(ref _heldClose) is not null;

    /// <summary>Forgets a held close that could not be written, so that disposal closes the transport.</summary>
    public void DiscardHeldClose() => Volatile.Write(ref _heldClose, null);

    /// <summary>Marks the close frames the connection's writer sends itself, which go out as any frame does.</summary>
    public void BeginOwnClose() => Volatile.Write(ref _writingOwnClose, true);

    /// <summary>Ends <see cref="BeginOwnClose"/>.</summary>
    public void EndOwnClose() => Volatile.Write(ref _writingOwnClose, false);

    /// <summary>
    /// Writes <paramref name="frames"/> (framed by the caller) and then the held close frame, after anything a
    /// batch left buffered, and ends the batch. The caller is the connection's only writer by then.
    /// </summary>
    public async ValueTask WriteFramesThenHeldCloseAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        var close = Interlocked.Exchange(ref _heldClose, null);
        Debug.Assert(close is not null, "Only a connection whose close is held has one to write.");
        EndBatch();
        BeginOwnClose();
        try
        {
            if (!frames.IsEmpty)
            {
                Volatile.Write(ref _batching, true);
                await WriteAsync(frames, cancellationToken).ConfigureAwait(false);
                EndBatch();
            }

            await WriteAsync(close, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndOwnClose();
        }
    }

    /// <summary>A frame that does not fit beside what is buffered: the buffer goes first, then the frame.</summary>
    private async ValueTask FlushThenWriteAsync(ReadOnlyMemory<byte> source, bool batching, CancellationToken cancellationToken)
    {
        await FlushWriteBufferAsync(cancellationToken).ConfigureAwait(false);
        if (batching && source.Length <= WriteBufferSize)
        {
            var buffer = _writeBuffer ??= ArrayPool<byte>.Shared.Rent(WriteBufferSize);
            source.Span.CopyTo(buffer);
            _writeCount = source.Length;
            return;
        }

        await WriteToTransportAsync(source, cancellationToken).ConfigureAwait(false);
    }

    /// <remarks>
    /// The WebSocket flushes after every frame. A flush never writes anything of ours: inside a batch it must
    /// not (that would undo the coalescing), and outside one there is nothing buffered.
    /// </remarks>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _batching) ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

    /// <summary>Writes what is buffered; outside a batch, the buffer then goes back to the pool.</summary>
    private ValueTask FlushWriteBufferAsync(CancellationToken cancellationToken)
    {
        var count = _writeCount;
        _writeCount = 0;
        var pending = count == 0 ? ValueTask.CompletedTask : WriteToTransportAsync(_writeBuffer.AsMemory(0, count), cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return ReleaseAfterAsync(pending);
        }

        if (!Volatile.Read(ref _batching))
        {
            ReleaseWriteBuffer();
        }

        return ValueTask.CompletedTask;
    }

    private async ValueTask ReleaseAfterAsync(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        if (!Volatile.Read(ref _batching))
        {
            ReleaseWriteBuffer();
        }
    }

    private void ReleaseWriteBuffer()
    {
        var buffer = _writeBuffer;
        _writeBuffer = null;
        _writeCount = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override void Dispose(bool disposing)
    {
        // The WebSocket disposes its stream once it has sent a close after receiving one, held or not: a
        // held close has not been written yet, so the transport stays open for it; the connection's owner
        // disposes the stream again when it is done (after DiscardHeldClose).
        if (disposing && HasHeldClose)
        {
            return;
        }

        base.Dispose(disposing);
    }
}
