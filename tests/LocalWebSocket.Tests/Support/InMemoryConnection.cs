using System.IO.Pipelines;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// The two ends of a connection made of two in-memory pipes: the in-memory transport the hub's tests use to
/// run it without sockets (<see cref="Server.LocalWebSocketServer.AcceptConnectionAsync"/>).
/// </summary>
internal sealed class InMemoryConnection
{
    private InMemoryConnection(Stream server, Stream client)
    {
        ServerEnd = server;
        ClientEnd = client;
    }

    /// <summary>The end handed to the server.</summary>
    public Stream ServerEnd { get; }

    /// <summary>The end a test talks through.</summary>
    public Stream ClientEnd { get; }

    public static InMemoryConnection Create()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        return new(new DuplexStream(toServer.Reader, toClient.Writer), new DuplexStream(toClient.Reader, toServer.Writer));
    }

    /// <summary>Writes a request and reads the response head, byte by byte so nothing after it is consumed.</summary>
    public async Task<string> RequestAsync(string request)
    {
        await ClientEnd.WriteAsync(Encoding.ASCII.GetBytes(request)).AsTask().WaitAsync(TestServers.Timeout);
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await ClientEnd.ReadAsync(one).AsTask().WaitAsync(TestServers.Timeout) == 0)
            {
                break;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>A stream that reads one pipe and writes the other.</summary>
    private sealed class DuplexStream(PipeReader reader, PipeWriter writer) : Stream
    {
        private readonly Stream _reads = reader.AsStream();
        private readonly Stream _writes = writer.AsStream();

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _reads.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _reads.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _writes.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _writes.WriteAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => _writes.FlushAsync(cancellationToken);

        public override void Flush() => _writes.Flush();

        public override int Read(byte[] buffer, int offset, int count) => _reads.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count) => _writes.Write(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // Completing both pipes is the peer's end of stream, as closing a socket would be.
                _reads.Dispose();
                _writes.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
