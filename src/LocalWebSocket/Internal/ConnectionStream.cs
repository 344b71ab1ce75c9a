using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace LocalWebSocket.Internal;

/// <summary>
/// The stream under every WebSocket of ours, one class per role: <see cref="ServerConnectionStream"/> (one of
/// thousands of mostly idle connections: nothing held while idle, writes coalesced) and
/// <see cref="ClientConnectionStream"/> (one busy connection: buffers kept, writes behind). What both share
/// lives here: reads are buffered while data is waiting, so many small frames cost one read syscall; bytes read
/// past a handshake head can be pushed back; and over a plain socket a write first tries a non-blocking send.
/// Each reason moved a figure on our benchmarks (see bench/README.md).
/// </summary>
/// <remarks>
/// One reader at a time (the handshake, then the WebSocket's receive path). Writes come only from the
/// WebSocket, which writes one frame at a time whatever sends it (its send path, its keep-alive timer, a pong),
/// so the roles' write state needs no lock of ours.
/// </remarks>
internal abstract class ConnectionStream : Stream
{
    /// <summary>Large enough for a burst of small frames, small enough to rent per read.</summary>
    internal const int ReadBufferSize = 4096;

    private protected readonly Stream _inner;
    private protected readonly Socket? _socket;

    // The read buffer: only the one reader touches it.
    private protected byte[]? _readBuffer;
    private protected int _readOffset;
    private protected int _readCount;

    private bool _socketNonBlocking;
    private int _disposed;

    private protected ConnectionStream(Stream inner, Socket? socket)
    {
        _inner = inner;
        _socket = socket;
    }

    /// <summary>A server's connection (see <see cref="ServerConnectionStream"/>).</summary>
    /// <param name="inner">The transport (a <see cref="NetworkStream"/>, a TLS stream over it, a host's upgraded stream).</param>
    /// <param name="socket">The socket under <paramref name="inner"/> when there is no TLS: reads then try a non-blocking receive first.</param>
    public static ServerConnectionStream ForServer(Stream inner, Socket? socket) => new(inner, socket);

    /// <summary>A client's connection (see <see cref="ClientConnectionStream"/>).</summary>
    /// <param name="inner">The transport (a <see cref="NetworkStream"/> or TLS stream over it).</param>
    /// <param name="socket">The socket under <paramref name="inner"/> when there is no TLS: writes then try a non-blocking send first.</param>
    public static ClientConnectionStream ForClient(Stream inner, Socket? socket) => new(inner, socket);

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

    public sealed override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        _readCount > 0 ? new(CopyBuffered(destination.Span)) : ReadUnbufferedAsync(destination, cancellationToken);

    /// <summary>A read when nothing is buffered. A zero-byte read is a wait for data: the role decides how it waits.</summary>
    private protected abstract ValueTask<int> ReadUnbufferedAsync(Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>Reads from the transport through the read buffer (a small destination) or straight into the destination.</summary>
    private protected async ValueTask<int> ReadFromTransportAsync(Memory<byte> destination, CancellationToken cancellationToken)
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

    private protected int CopyBuffered(Span<byte> destination)
    {
        Debug.Assert(_readCount > 0 && _readBuffer is not null, "Only buffered bytes are copied.");
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

    /// <summary>Everything buffered has been read: the role keeps the buffer or gives it back.</summary>
    private protected abstract void ReleaseReadBuffer();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

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

    private protected void EnsureNonBlocking()
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

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // Buffers in use by an operation still in flight are not returned to the pool here: returning a
        // rented array twice would corrupt the pool. They are left to the garbage collector instead.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0 && ClosesTransportAtDisposal())
        {
            CloseTransport();
        }

        base.Dispose(disposing);
    }

    /// <summary>Whether disposal closes the transport now (a client's write behind may close it after its flush instead).</summary>
    private protected virtual bool ClosesTransportAtDisposal() => true;

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
