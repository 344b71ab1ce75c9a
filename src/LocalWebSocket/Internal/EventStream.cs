using System.Threading.Channels;

namespace LocalWebSocket.Internal;

/// <summary>
/// An <see cref="IAsyncEnumerable{T}"/> that many readers can consume independently. Each enumeration
/// subscribes when it starts (<see cref="GetAsyncEnumerator"/>) and gets its own bounded buffer, so a slow
/// reader never blocks the producer or the other readers: when its buffer is full, its oldest item is
/// dropped and counted.
/// </summary>
internal sealed class EventStream<T> : IAsyncEnumerable<T>
{
    private readonly Lock _gate = new();
    private readonly int _capacity;
    private readonly Action? _onDropped;
    private Channel<T>[] _subscribers = [];
    private bool _completed;

    public EventStream(int capacity, Action? onDropped = null)
    {
        _capacity = capacity;
        _onDropped = onDropped;
    }

    /// <summary>Whether any reader is subscribed; producers skip building items nobody reads.</summary>
    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length != 0;

    public void Publish(T item)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber.Writer.TryWrite(item);
        }
    }

    /// <summary>Ends every enumeration; later enumerations end at once.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers = [];
        }
    }

    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        var options = new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        };
        var channel = _onDropped is null
            ? Channel.CreateBounded<T>(options)
            : Channel.CreateBounded<T>(options, _ => _onDropped());

        lock (_gate)
        {
            if (_completed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers = [.. _subscribers, channel];
            }
        }

        return new Subscription(this, channel, cancellationToken);
    }

    private void Unsubscribe(Channel<T> channel)
    {
        lock (_gate)
        {
            var index = Array.IndexOf(_subscribers, channel);
            if (index >= 0)
            {
                _subscribers = [.. _subscribers.AsSpan(0, index), .. _subscribers.AsSpan(index + 1)];
            }
        }

        channel.Writer.TryComplete();
    }

    private sealed class Subscription(EventStream<T> owner, Channel<T> channel, CancellationToken cancellationToken)
        : IAsyncEnumerator<T>
    {
        public T Current { get; private set; } = default!;

        public async ValueTask<bool> MoveNextAsync()
        {
            var reader = channel.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.TryRead(out var item))
                {
                    Current = item;
                    return true;
                }
            }

            return false;
        }

        public ValueTask DisposeAsync()
        {
            owner.Unsubscribe(channel);
            return ValueTask.CompletedTask;
        }
    }
}
