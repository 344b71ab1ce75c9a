using LocalWebSocket.Internal;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Protocol;

/// <summary>A client connection's writes once its WebSocket is open (<see cref="WriteBehind"/>).</summary>
public sealed class WriteBehindTests
{
    /// <summary>
    /// A transport that records each write and can hold them: while held, a write waits as one does on a full
    /// socket buffer (<see cref="Hold"/>), or is busy in its syscall (<see cref="HoldInside"/>). Disposing it
    /// fails a held write, as closing a socket does.
    /// </summary>
    private sealed class HeldTransport : Stream
    {
        private readonly object _gate = new();
        private readonly List<byte[]> _writes = [];
        private readonly SemaphoreSlim _wrote = new(0);
        private TaskCompletionSource? _held;
        private ManualResetEventSlim? _heldInside;

        /// <summary>Completed when a write held inside has started.</summary>
        public TaskCompletionSource EnteredInside { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? FailWritesWith { get; set; }

        public List<byte[]> Writes
        {
            get
            {
                lock (_gate)
                {
                    return [.. _writes];
                }
            }
        }

        public byte[] Written => [.. Writes.SelectMany(write => write)];

        public void Hold()
        {
            lock (_gate)
            {
                _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public void HoldInside() => _heldInside = new ManualResetEventSlim();

        public void Release()
        {
            TaskCompletionSource? held;
            lock (_gate)
            {
                (held, _held) = (_held, null);
            }

            held?.TrySetResult();
            _heldInside?.Set();
        }

        /// <summary>Waits until <paramref name="bytes"/> bytes have been written, or fails after the test timeout.</summary>
        public async Task WaitForBytesAsync(int bytes)
        {
            while (Written.Length < bytes)
            {
                Assert.True(await _wrote.WaitAsync(TestServers.Timeout), $"{Written.Length} of {bytes} bytes written");
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Task? held;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(Disposed.Task.IsCompleted, this);
                if (FailWritesWith is { } failure)
                {
                    throw failure;
                }

                _writes.Add(buffer.ToArray());
                held = _held?.Task;
            }

            _wrote.Release();
            if (_heldInside is { } inside && !inside.IsSet)
            {
                EnteredInside.TrySetResult();
                Assert.True(inside.Wait(TestServers.Timeout), "the write held inside was never released");
            }

            if (held is not null)
            {
                await held.ConfigureAwait(false);
            }
        }

        protected override void Dispose(bool disposing)
        {
            Disposed.TrySetResult();
            TaskCompletionSource? held;
            lock (_gate)
            {
                (held, _held) = (_held, null);
            }

            held?.TrySetException(new ObjectDisposedException(nameof(HeldTransport)));
            base.Dispose(disposing);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }

    private static (ConnectionStream Stream, HeldTransport Transport) Open()
    {
        var transport = new HeldTransport();
        var stream = ConnectionStream.ForClient(transport, socket: null);
        stream.EnableWriteBehind();
        return (stream, transport);
    }

    private static byte[] Frame(int index, int size = 34) => Enumerable.Range(0, size).Select(i => (byte)(index + i)).ToArray();

    [Fact]
    public async Task Frames_sent_while_a_write_is_under_way_go_out_together_in_one_write_after_it()
    {
        var (stream, transport) = Open();
        transport.Hold();
        var first = stream.WriteAsync(Frame(0));
        Assert.False(first.IsCompleted);

        var frames = Enumerable.Range(1, 99).Select(i => Frame(i)).ToList();
        foreach (var frame in frames)
        {
            Assert.True(stream.WriteAsync(frame).IsCompletedSuccessfully, "a frame sent behind a write waits in the buffer");
        }

        transport.Release();
        await first.AsTask().Within();
        await transport.WaitForBytesAsync(100 * 34);

        var writes = transport.Writes;
        Assert.Equal(2, writes.Count);
        Assert.Equal(Frame(0), writes[0]);
        Assert.Equal(frames.SelectMany(frame => frame), writes[1]);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task A_lone_frame_is_written_before_the_send_returns()
    {
        var (stream, transport) = Open();
        var frame = Frame(7);

        Assert.True(stream.WriteAsync(frame).IsCompletedSuccessfully);

        Assert.Equal([frame], transport.Writes);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task A_frame_too_large_to_buffer_goes_straight_out_when_nothing_waits_to_be_written()
    {
        var (stream, transport) = Open();
        Assert.True(stream.WriteAsync(Frame(0)).IsCompletedSuccessfully);

        // Written straight out above, the small frame left a flush queued for whatever follows it.
        var large = Frame(1, WriteBehind.Limit + 14);
        Assert.True(stream.WriteAsync(large).IsCompletedSuccessfully);

        Assert.Equal([Frame(0), large], transport.Writes);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task Past_the_limit_a_sender_waits_for_the_flush_and_every_byte_still_goes_out_in_order()
    {
        var (stream, transport) = Open();
        transport.Hold();
        var first = stream.WriteAsync(Frame(0));
        var sent = new List<byte[]> { Frame(0) };
        ValueTask waiting = default;
        for (var i = 1; i < 1_000 && waiting.IsCompleted; i++)
        {
            sent.Add(Frame(i, 1024));
            waiting = stream.WriteAsync(sent[^1]);
        }

        Assert.False(waiting.IsCompleted, "no sender had to wait");
        var buffered = sent.Skip(1).SkipLast(1).Sum(frame => frame.Length);
        Assert.InRange(buffered, WriteBehind.Limit - 1024, WriteBehind.Limit);

        transport.Release();
        await first.AsTask().Within();
        await waiting.AsTask().Within();
        await transport.WaitForBytesAsync(sent.Sum(frame => frame.Length));
        Assert.Equal(sent.SelectMany(frame => frame), transport.Written);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task Frames_buffered_when_the_stream_is_disposed_are_written_before_the_transport_closes()
    {
        var (stream, transport) = Open();
        transport.HoldInside();
        var first = Task.Run(() => stream.WriteAsync(Frame(0)).AsTask());
        await transport.EnteredInside.Task.Within();
        var close = Frame(0x88, 4);
        Assert.True(stream.WriteAsync(close).IsCompletedSuccessfully);

        // A WebSocket disposes its stream right after its close frame: the transport stays open for it.
        await stream.DisposeAsync();
        Assert.False(transport.Disposed.Task.IsCompleted, "the transport closed under a write");

        transport.Release();
        await first.Within();
        await transport.Disposed.Task.Within();
        Assert.Equal(Frame(0).Concat(close), transport.Written);
    }

    [Fact]
    public async Task Disposing_while_a_write_waits_on_the_transport_closes_it_at_once_and_fails_the_write()
    {
        var (stream, transport) = Open();
        transport.Hold();
        var stuck = stream.WriteAsync(Frame(0));
        Assert.True(stream.WriteAsync(Frame(1)).IsCompletedSuccessfully);

        await stream.DisposeAsync();

        await transport.Disposed.Task.Within();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stuck.AsTask().Within());
        await Assert.ThrowsAsync<IOException>(() => stream.WriteAsync(Frame(2)).AsTask());
    }

    [Fact]
    public async Task A_failed_flush_closes_the_transport_and_fails_the_sends_after_it_and_a_waiting_sender()
    {
        var (stream, transport) = Open();
        transport.Hold();
        var first = stream.WriteAsync(Frame(0));
        ValueTask waiting = default;
        for (var i = 1; i < 1_000 && waiting.IsCompleted; i++)
        {
            waiting = stream.WriteAsync(Frame(i, 1024));
        }

        Assert.False(waiting.IsCompleted, "no sender had to wait");

        // The held write completes; the flush of what waits behind it then fails.
        transport.FailWritesWith = new IOException("Connection reset by peer");
        transport.Release();
        await first.AsTask().Within();

        await transport.Disposed.Task.Within();
        var failure = await Assert.ThrowsAsync<IOException>(() => waiting.AsTask().Within());
        Assert.Same(transport.FailWritesWith, failure.InnerException);
        await Assert.ThrowsAsync<IOException>(() => stream.WriteAsync(Frame(9)).AsTask());
    }

    [Fact]
    public async Task A_failed_direct_write_fails_its_sender_and_closes_the_transport()
    {
        var (stream, transport) = Open();
        transport.FailWritesWith = new IOException("Broken pipe");

        var failure = await Assert.ThrowsAsync<IOException>(() => stream.WriteAsync(Frame(0)).AsTask());

        Assert.Same(transport.FailWritesWith, failure);
        await transport.Disposed.Task.Within();
    }
}
