using System.Buffers;
using System.Net.WebSockets;

namespace LocalWebSocket.Internal;

/// <summary>How reading one message ended.</summary>
internal enum AssemblyOutcome
{
    /// <summary>The whole message is in the rented buffer, which the caller now owns.</summary>
    Complete,

    /// <summary>The peer's close frame arrived instead.</summary>
    Closed,

    /// <summary>The message grew past the size limit; nothing is kept.</summary>
    TooLarge,
}

/// <summary>A whole message in a buffer rented from <see cref="ArrayPool{T}.Shared"/>, or why there is none.</summary>
internal readonly record struct AssembledMessage(AssemblyOutcome Outcome, WebSocketMessageType Type, byte[]? Buffer, int Length);

/// <summary>
/// Reads the frames of one message into a pooled buffer that grows as needed up to the size limit. The
/// server has already waited for the first frame with a zero-byte receive, so no buffer is held while idle;
/// the client may have read the start of the message already.
/// </summary>
internal static class MessageAssembler
{
    /// <summary>First buffer rented for a message; most messages of a LAN app fit.</summary>
    public const int InitialBufferSize = 4096;

    /// <param name="webSocket">Where the rest of the message comes from.</param>
    /// <param name="first">The result of the receive that started the message.</param>
    /// <param name="start">The bytes that receive read (empty after a zero-byte receive).</param>
    /// <param name="maxSize">The size limit.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <param name="waitHook">Told before a read of the rest has to wait for the network.</param>
    public static async ValueTask<AssembledMessage> ReceiveAsync(
        WebSocket webSocket, ValueWebSocketReceiveResult first, ReadOnlyMemory<byte> start, int maxSize, CancellationToken cancellationToken,
        IReceiveWaitHook? waitHook = null)
    {
        var type = first.MessageType;
        if (start.Length > maxSize)
        {
            return new(AssemblyOutcome.TooLarge, type, null, 0);
        }

        if (first.EndOfMessage)
        {
            var whole = ArrayPool<byte>.Shared.Rent(Math.Max(start.Length, 1));
            start.Span.CopyTo(whole);
            return new(AssemblyOutcome.Complete, type, whole, start.Length);
        }

        // One byte past the limit is room enough to notice that a message is too large.
        var limit = (int)Math.Min((long)maxSize + 1, Array.MaxLength);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(InitialBufferSize, start.Length * 2), limit));
        start.Span.CopyTo(buffer);
        var length = start.Length;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit));
                    buffer.AsSpan(0, length).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                }

                var room = Math.Min(buffer.Length, limit) - length;
                var pending = webSocket.ReceiveAsync(buffer.AsMemory(length, room), cancellationToken);
                if (waitHook is not null && !pending.IsCompleted)
                {
                    waitHook.BeforeWaiting();
                }

                var result = await pending.ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return new(AssemblyOutcome.Closed, type, null, 0);
                }

                length += result.Count;
                if (length > maxSize)
                {
                    return new(AssemblyOutcome.TooLarge, type, null, 0);
                }

                if (result.EndOfMessage)
                {
                    var complete = new AssembledMessage(AssemblyOutcome.Complete, type, ExactSize(buffer, length), length);
                    buffer = null;
                    return complete;
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// A small message moves to a pooled buffer of its size, and the big one goes back to the pool. A server
    /// queues what it receives: a pipelining peer's burst is a hundred small messages queued at once, and that
    /// many buffers of the initial size would run the pool dry (a fresh 4 KiB array, zeroed, per message).
    /// </summary>
    private static byte[] ExactSize(byte[] buffer, int length)
    {
        if (length > buffer.Length / 2)
        {
            return buffer;
        }

        var exact = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        buffer.AsSpan(0, length).CopyTo(exact);
        ArrayPool<byte>.Shared.Return(buffer);
        return exact;
    }
}

/// <summary>
/// What a receive loop does before it waits for the network (a server's: send what it routed). The loop asks,
/// as it reads, whether its read would wait; the stream beneath it does not call back into it.
/// </summary>
internal interface IReceiveWaitHook
{
    /// <summary>A read is about to wait for data that has not arrived yet.</summary>
    void BeforeWaiting();
}
