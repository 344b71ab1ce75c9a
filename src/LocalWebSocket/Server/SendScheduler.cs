using System.Collections.Concurrent;

namespace LocalWebSocket.Server;

/// <summary>
/// Runs the writers of many clients from one thread-pool work item, one client after another.
/// </summary>
/// <remarks>
/// A writer started by its own work item runs at once and usually finds one message: with one work item
/// per client and per message, a broadcast to 1,000 clients costs 1,000 socket writes for every message.
/// Here a client waits in line behind the clients queued before it, and the messages routed to it in the
/// meantime join its queue, so its writer sends them together in one socket write. A writer runs
/// synchronously until its first write that cannot complete at once; from there it continues on its own
/// and the line moves on. The server has one scheduler per processor, so writers still run in parallel.
/// </remarks>
internal sealed class SendScheduler : IThreadPoolWorkItem
{
    private readonly ConcurrentQueue<ConnectedClient> _ready = new();
    private int _running;

    /// <summary>Puts <paramref name="client"/> in line; its writer runs when its turn comes.</summary>
    public void Schedule(ConnectedClient client)
    {
        _ready.Enqueue(client);
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            while (_ready.TryDequeue(out var client))
            {
                client.RunWriter();
            }

            Interlocked.Exchange(ref _running, 0);

            // A client queued between the last TryDequeue and the write above would otherwise wait for the
            // next Schedule call: take the line back when it is not empty and nobody else has.
            if (_ready.IsEmpty || Interlocked.Exchange(ref _running, 1) == 1)
            {
                return;
            }
        }
    }
}
