using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace LocalWebSocket.Internal;

/// <summary>
/// The stream under every WebSocket of ours. It exists for reasons that each moved a figure on our
/// benchmarks (see bench/README.md):
/// <list type="bullet">
/// <item>Reads are buffered while data is waiting, so many small frames cost one read syscall.</item>
/// <item>On a server's connections, reads wait for data before renting a buffer, so an idle connection holds
/// no receive buffer; a non-blocking receive comes first, since under load the data is usually there.</item>
/// <item>On a server's connections, writes between <see cref="BeginBatch"/> and <see cref="EndBatch"/> are
/// coalesced, and the first write after the batch's end takes them along, so a drain of several queued
/// frames costs one socket write; writes outside a batch (pongs, closes) go straight out.</item>
/// <item>On a client's connection, once the handshake is done, writes go behind (<see cref="WriteBehind"/>):
/// the frames of a burst of sends cost one socket write.</item>
/// </list>
/// </summary>
/// <remarks>
/// One reader at a time (the WebSocket's receive path). Writes come only from the WebSocket, which writes
/// one frame at a time whatever sends it (its send path, its keep-alive timer, a pong): the write buffer is
/// only touched by those writes, so it needs no lock of ours. That is why a batch does not write at its end
/// but leaves its frames to the next write (the writer ends the batch just before its last frame).
/// </remarks>
internal sealed class ConnectionStream : Stream
{
    /// <summary>Large enough for a burst of small frames, small enough to rent per read.</summary>
    internal const int ReadBufferSize = 4096;

    /// <summary>A drain of small messages fits; bigger frames bypass the buffer.</summary>
    internal const int WriteBufferSize = 16 * 1024;

    private readonly Stream _inner;
    private readonly Socket? _socket;
    private readonly bool _serverSide;

    private byte[]? _readBuffer;
    private int _readOffset;
    private int _readCount;

    private byte[]? _writeBuffer;
    private int _writeCount;
    private bool _batching;
    private bool _socketNonBlocking;
    private int _disposed;

    // A client's writes once its WebSocket is open; null on a server's connections, which batch instead.
    private WriteBehind? _writeBehind;

    // A server's connections only. The connection's writer sets _writingOwnClose around the close frames it
    // sends; any other close frame is the WebSocket failing the connection on bad input (a protocol error,
    // invalid UTF-8) from its receive path. That one is held in _heldClose, not written, so that messages
    // which arrived whole before the bad input can still go out first (see ConnectedClient's salvage).
    private bool _writingOwnClose;
    private byte[]? _heldClose;

    private ConnectionStream(Stream inner, Socket? socket, bool serverSide)
    {
        _inner = inner;
        _socket = socket;
        _serverSide = serverSide;
    }

    /// <summary>
    /// A server's connection, one of thousands, mostly idle: reads wait for data before renting a buffer,
    /// and writes can be coalesced (<see cref="BeginBatch"/>).
    /// </summary>
    /// <param name="inner">The transport (a <see cref="NetworkStream"/> or TLS stream over it).</param>
    /// <param name="socket">The socket under <paramref name="inner"/> when there is no TLS: reads then try a non-blocking receive first.</param>
    public static ConnectionStream ForServer(Stream inner, Socket? socket) => new(inner, socket, serverSide: true);

    /// <summary>
    /// A client's one connection: reads go straight to the transport (one wait-and-receive less per read) and
    /// writes are not coalesced, since its only writer is the WebSocket, which sends one frame at a time.
    /// </summary>
    /// <param name="inner">The transport (a <see cref="NetworkStream"/> or TLS stream over it).</param>
    /// <param name="socket">The socket under <paramref name="inner"/> when there is no TLS: writes then try a non-blocking send first.</param>
    public static ConnectionStream ForClient(Stream inner, Socket? socket) => new(inner, socket, serverSide: false);

    /// <summary>
    /// From now on a client's small writes are coalesced by a flush on the thread pool. Called once the
    /// handshake is over: the request itself goes straight out, since its response is awaited at once.
    /// </summary>
    public void EnableWriteBehind()
    {
        Debug.Assert(!_serverSide, "A server's connections batch their writes instead.");
        _writeBehind ??= new WriteBehind(this);
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes that were read past a request head; they are returned first by the next reads.</summary>
    public void PushBack(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var total = data.Length + _readCount;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(ReadBufferSize, total));
        data.CopyTo(buffer);
        if (_readCount > 0)
        {
            _readBuffer.AsSpan(_readOffset, _readCount).CopyTo(buffer.AsSpan(data.Length));
        }

        ReleaseReadBuffer();
        _readBuffer = buffer;
        _readOffset = 0;
        _readCount = total;
    }

    /// <summary>
    /// Told when a read finds nothing buffered, before it goes to the transport: the reader has handled
    /// everything that arrived together, which makes it the moment to send what that produced.
    /// </summary>
    public IDataWaitObserver? DataWaitObserver { get; set; }

    public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_readCount > 0)
        {
            return new(CopyBuffered(destination.Span));
        }

        DataWaitObserver?.BeforeWaitingForData();

        // A zero-byte read is the WebSocket waiting for data, where an idle connection spends its life:
        // handed straight to the transport, it keeps no state of ours while it waits.
        return destination.IsEmpty ? _inner.ReadAsync(destination, cancellationToken) : ReadFromSocketOrTransportAsync(destination, cancellationToken);
    }

    private async ValueTask<int> ReadFromSocketOrTransportAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (!_serverSide)
        {
            return await ReadFromTransportAsync(destination, cancellationToken).ConfigureAwait(false);
        }

        if (_socket is null)
        {
            // Under TLS: wait for data without holding a buffer, then read what came.
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

    private async ValueTask<int> ReadFromTransportAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.Length >= ReadBufferSize)
        {
            return await _inner.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }

        var buffer = _readBuffer ??= ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        int read;
        try
        {
            read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ReleaseReadBuffer();
            throw;
        }

        if (read == 0)
        {
            ReleaseReadBuffer();
            return 0;
        }

        _readOffset = 0;
        _readCount = read;
        return CopyBuffered(destination.Span);
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    private int CopyBuffered(Span<byte> destination)
    {
        var count = Math.Min(destination.Length, _readCount);
        _readBuffer.AsSpan(_readOffset, count).CopyTo(destination);
        _readOffset += count;
        _readCount -= count;
        if (_readCount == 0)
        {
            ReleaseReadBuffer();
        }

        return count;
    }

    private void ReleaseReadBuffer()
    {
        if (!_serverSide)
        {
            // A client's one connection keeps its buffer: renting and returning it for every read cost more.
            _readCount = 0;
            _readOffset = 0;
            return;
        }

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
    public void BeginBatch()
    {
        Debug.Assert(_serverSide, "Only a server's connections coalesce writes.");
        Volatile.Write(ref _batching, true);
    }

    /// <summary>
    /// Stops coalescing: the next write (the writer's last frame, or a pong) takes what was coalesced along,
    /// in one socket write when it fits.
    /// </summary>
    public void EndBatch() => Volatile.Write(ref _batching, false);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        _serverSide ? WriteServerSideAsync(source, cancellationToken)
        : _writeBehind is { } writeBehind ? writeBehind.WriteAsync(source, cancellationToken)
        : WriteToTransportAsync(source, cancellationToken);

    private ValueTask WriteServerSideAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
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

    private const byte CloseFrameStart = 0x88;

    /// <summary>Whether the WebSocket has failed the connection and its close frame is held.</summary>
    public bool HasHeldClose => Volatile.Read(ref _heldClose) is not null;

    /// <summary>Forgets a held close that could not be written, so that disposal closes the transport.</summary>
    public void DiscardHeldClose() => Volatile.Write(ref _heldClose, null);

    /// <summary>Marks the close frames the connection's writer sends itself, which go out as any frame does.</summary>
    public void BeginOwnClose()
    {
        Debug.Assert(_serverSide, "Only a server's connections hold close frames.");
        Volatile.Write(ref _writingOwnClose, true);
    }

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
                await WriteServerSideAsync(frames, cancellationToken).ConfigureAwait(false);
                EndBatch();
            }

            await WriteServerSideAsync(close, cancellationToken).ConfigureAwait(false);
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

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <remarks>
    /// The WebSocket flushes after every frame. A flush never writes anything of ours: inside a server's batch
    /// it must not (that would undo the coalescing), outside one there is nothing buffered, and a client's
    /// write-behind flushes by itself (a flush per frame that waited for it would undo its coalescing too).
    /// </remarks>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _batching) ? Task.CompletedTask : _inner.FlushAsync(cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Writes to the transport. Over a plain socket it first tries a non-blocking send, which on a LAN almost
    /// always takes everything: no asynchronous operation (and none of the state the socket keeps for one).
    /// </summary>
    internal ValueTask WriteToTransportAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            return _inner.WriteAsync(source, cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        EnsureNonBlocking();
        while (!source.IsEmpty)
        {
            var sent = _socket.Send(source.Span, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                break;
            }

            if (error != SocketError.Success)
            {
                throw new IOException($"Unable to write data to the transport connection: {error}.", new SocketException((int)error));
            }

            source = source[sent..];
        }

        return source.IsEmpty ? ValueTask.CompletedTask : _inner.WriteAsync(source, cancellationToken);
    }

    private void EnsureNonBlocking()
    {
        if (!_socketNonBlocking)
        {
            // Makes Receive and Send return at once when they cannot proceed; the asynchronous operations
            // behave the same either way. Set at the first use, not before: a TLS stream may still take the
            // socket over until then.
            _socket!.Blocking = false;
            _socketNonBlocking = true;
        }
    }

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

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // The WebSocket disposes its stream once it has sent a close after receiving one, held or not: a
        // held close has not been written yet, so the transport stays open for it; the connection's owner
        // disposes the stream again when it is done (after DiscardHeldClose).
        if (disposing && HasHeldClose)
        {
            return;
        }

        // Buffers in use by an operation still in flight are not returned to the pool here: returning a
        // rented array twice would corrupt the pool. They are left to the garbage collector instead.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0 && (_writeBehind is null || _writeBehind.CloseNowOrAfterFlush()))
        {
            CloseTransport();
        }

        base.Dispose(disposing);
    }

    /// <summary>Closes the transport: at disposal, or when a write behind failed or finished after it.</summary>
    internal void CloseTransport()
    {
        try
        {
            _inner.Dispose();
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            // Called from a flush on the thread pool too, where an exception would reach nobody: the transport
            // is closed either way.
        }
    }
}

/// <summary>
/// What a <see cref="ConnectionStream"/> tells its reader. An interface rather than a delegate: a delegate
/// would be one more object per connection, and there are thousands of connections.
/// </summary>
internal interface IDataWaitObserver
{
    /// <summary>A read found nothing buffered and is about to wait for the transport.</summary>
    void BeforeWaitingForData();
}
