using System.Collections.Concurrent;

namespace LocalWebSocket.Tests.Support;

/// <summary>Collects items pushed from events and lets a test await a condition on them, with a timeout.</summary>
internal sealed class Probe<T>
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly List<(Func<IReadOnlyList<T>, bool> Condition, TaskCompletionSource Signal)> _waiters = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<T> Items => [.. _items];

    public void Add(T item)
    {
        _items.Enqueue(item);
        Check();
    }

    /// <summary>
    /// Completes when <paramref name="condition"/> holds on the items seen so far, within
    /// <paramref name="timeout"/> (default <see cref="TestServers.Timeout"/>).
    /// </summary>
    public Task WaitUntilAsync(Func<IReadOnlyList<T>, bool> condition, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Add((condition, signal));
        }

        Check();
        return WaitAsync(signal.Task, timeout ?? TestServers.Timeout);
    }

    private async Task WaitAsync(Task signal, TimeSpan timeout)
    {
        try
        {
            await signal.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            var items = Items;
            throw new TimeoutException(
                $"The awaited condition did not hold within {timeout.TotalSeconds} s; {items.Count} items seen, the last: {(items.Count > 0 ? items[^1] : "none")}.");
        }
    }

    /// <summary>Completes when at least <paramref name="count"/> items arrived; returns them.</summary>
    public async Task<IReadOnlyList<T>> WaitForCountAsync(int count)
    {
        await WaitUntilAsync(items => items.Count >= count);
        return Items;
    }

    private void Check()
    {
        var items = Items;
        lock (_gate)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(items))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
