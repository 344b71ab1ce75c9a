using System.Buffers;
using System.Net.WebSockets;
using System.Text;

namespace LocalWebSocket.Internal;

/// <summary>
/// A message on its way to one or more peers. It is encoded once and shared by every send queue it
/// sits in; the pooled buffer goes back to the pool when the last queue releases it.
/// </summary>
internal sealed class OutgoingMessage
{
    private readonly byte[] _buffer;
    private readonly int _length;
    private readonly bool _pooled;
    private int _references = 1;

    private OutgoingMessage(byte[] buffer, int length, WebSocketMessageType type, bool pooled)
    {
        _buffer = buffer;
        _length = length;
        _pooled = pooled;
        Type = type;
    }

    public WebSocketMessageType Type { get; }

    public ReadOnlyMemory<byte> Payload => _buffer.AsMemory(0, _length);

    public int Length => _length;

    /// <summary>Takes ownership of a buffer rented from <see cref="ArrayPool{T}.Shared"/>.</summary>
    public static OutgoingMessage FromRented(byte[] buffer, int length, WebSocketMessageType type) =>
        new(buffer, length, type, pooled: true);

    /// <summary>Copies <paramref name="payload"/> once into a pooled buffer.</summary>
    public static OutgoingMessage Copy(ReadOnlySpan<byte> payload, WebSocketMessageType type)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        return new(buffer, payload.Length, type, pooled: true);
    }

    /// <summary>Encodes <paramref name="text"/> once as UTF-8 into a pooled buffer.</summary>
    public static OutgoingMessage FromText(string text)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(Encoding.UTF8.GetMaxByteCount(text.Length), 1));
        var length = Encoding.UTF8.GetBytes(text, buffer);
        return new(buffer, length, WebSocketMessageType.Text, pooled: true);
    }

    /// <summary>Wraps memory that nobody will change again (a <see cref="WebSocketMessage"/>'s data).</summary>
    public static OutgoingMessage FromMessage(WebSocketMessage message)
    {
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(message.Data, out var segment)
            && segment.Offset == 0 && segment.Array is not null)
        {
            return new(segment.Array, segment.Count, message.Type, pooled: false);
        }

        return Copy(message.Data.Span, message.Type);
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        var remaining = Interlocked.Decrement(ref _references);
        if (remaining == 0 && _pooled)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
