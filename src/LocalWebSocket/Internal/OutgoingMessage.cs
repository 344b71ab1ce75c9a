using System.Buffers;
using System.Diagnostics;
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
    private long _relayWeight;

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

    /// <summary>
    /// The relaying client's weight in flight, when a client's message is relayed: the last reference
    /// released gives this message's weight back (see <c>ConnectedClient.Backpressure.cs</c>).
    /// </summary>
    public RelayCounter? Relay { get; private set; }

    /// <summary>
    /// Counts this message in <paramref name="relay"/> with <paramref name="weight"/> until its last reference
    /// is released; returns the relay's weight in flight with it.
    /// </summary>
    public long CountIn(RelayCounter relay, long weight)
    {
        Debug.Assert(Relay is null && weight > 0);
        _relayWeight = weight;
        Relay = relay;
        return relay.Add(weight);
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        var remaining = Interlocked.Decrement(ref _references);
        if (remaining != 0)
        {
            return;
        }

        Relay?.Add(-_relayWeight);
        if (_pooled)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}

/// <summary>
/// The weight of one client's relayed messages that some queue, writer or the router still holds (each
/// message weighs its length, and at least a queue slot's share of the byte limit): a measure of how far
/// the room is behind that sender. Added by its receive loop, given back by whoever releases a message's
/// last reference, on any thread. One atomic add each way, once per message, never per delivery: a counter
/// every writer touched per receiver would cost the fan-out a contended atomic per delivery.
/// </summary>
internal sealed class RelayCounter
{
    private long _weight;

    /// <summary>Adds <paramref name="weight"/> (negative to give it back); returns the weight in flight.</summary>
    public long Add(long weight) => Interlocked.Add(ref _weight, weight);
}
