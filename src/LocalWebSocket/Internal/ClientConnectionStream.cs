using System.Net.Sockets;

namespace LocalWebSocket.Internal;

/// <summary>
/// A client's one connection, busy rather than idle: reads go straight to the transport (one wait-and-receive
/// less per read) and keep their buffer; once the handshake is done, writes go behind
/// (<see cref="WriteBehind"/>), so the frames of a burst of sends cost one socket write.
/// </summary>
internal sealed class ClientConnectionStream : ConnectionStream
{
    // Set once, after the handshake and before the WebSocket writes; read by every write after.
    private WriteBehind? _writeBehind;

    internal ClientConnectionStream(Stream inner, Socket? socket)
        : base(inner, socket)
    {
    }

    /// <summary>
    /// From now on small writes are coalesced by a flush on the thread pool. Called once the handshake is over:
    /// the request itself goes straight out, since its response is awaited at once.
    /// </summary>
    public void EnableWriteBehind() => _writeBehind ??= new WriteBehind(this);

    private protected override ValueTask<int> ReadUnbufferedAsync(Memory<byte> destination, CancellationToken cancellationToken) =>
        destination.IsEmpty ? _inner.ReadAsync(destination, cancellationToken) : ReadFromTransportAsync(destination, cancellationToken);

    /// <summary>The one connection keeps its buffer: renting and returning it for every read cost more.</summary>
    private protected override void ReleaseReadBuffer()
    {
        _readCount = 0;
        _readOffset = 0;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        _writeBehind is { } writeBehind ? writeBehind.WriteAsync(source, cancellationToken) : WriteToTransportAsync(source, cancellationToken);

    /// <remarks>The write behind flushes by itself: a flush per frame that waited for it would undo its coalescing.</remarks>
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    private protected override bool ClosesTransportAtDisposal() => _writeBehind is null || _writeBehind.CloseNowOrAfterFlush();
}
