using System.Diagnostics;

namespace LocalWebSocket.Server;

/// <summary>
/// The writers one receive loop has woken by routing what it read, started together once the loop has routed
/// all that arrived at once: a burst of messages to a receiver then costs that receiver one write, not one per
/// message. The receive loop that routes owns it: it passes it to every <see cref="ConnectedClient.Enqueue"/>
/// of its routing, and starts it itself, before it waits for data, before it waits for a congested receiver,
/// after <see cref="MaxMessages"/> messages or <see cref="MaxBytes"/> bytes, and when it ends.
/// </summary>
/// <remarks>
/// Concurrency: used only by the receive loop that owns it, one step after another (its awaits may resume on
/// other threads, never two at once): no lock. <see cref="Start"/> runs writers, never re-enters the batch.
/// </remarks>
internal sealed class FanOutBatch
{
    /// <summary>
    /// Messages routed before the batch starts even though more data is already there: a client that sends
    /// without a pause must not hold back, for as long as it sends, the writers of everyone it sends to. Large
    /// enough that a pipelining client's small messages still go out in few writes (a 4 KiB read holds about
    /// a hundred 32 B messages; starting every 64 cost the raw-socket echo a sixth more CPU per message).
    /// </summary>
    public const int MaxMessages = 256;

    /// <summary>Bytes routed before the batch starts even though more data is there: the same bound, for large messages.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>At most this many writers run on the receive loop's thread; more are scheduled, to run in parallel.</summary>
    private const int InlineWriterLimit = 4;

    /// <summary>A broadcast to thousands must not leave an array that size behind on every sender.</summary>
    private const int KeptCapacity = 64;

    private ConnectedClient[] _writers = new ConnectedClient[InlineWriterLimit];
    private int _count;
    private int _messages;
    private long _bytes;
    private bool _starting;

    /// <summary>Whether the batch should start now, even with more data to read.</summary>
    public bool IsDue => _messages >= MaxMessages || _bytes >= MaxBytes;

    /// <summary>A writer that this loop's routing woke (its queue went from idle to holding a message).</summary>
    public void Add(ConnectedClient writer)
    {
        Debug.Assert(!_starting, "A writer was added while the batch was being started.");
        if (_count == _writers.Length)
        {
            Array.Resize(ref _writers, _count * 2);
        }

        _writers[_count++] = writer;
    }

    /// <summary>One message of <paramref name="length"/> bytes was routed through this batch.</summary>
    public void CountMessage(int length)
    {
        _messages++;
        _bytes += length;
    }

    /// <summary>
    /// Starts the writers woken since the last start: a few right here, which spares a thread switch per
    /// message (an echo, a chat between two); many on the schedulers.
    /// </summary>
    public void Start()
    {
        _messages = 0;
        _bytes = 0;
        if (_count == 0)
        {
            return;
        }

        _starting = true;
        var inline = _count <= InlineWriterLimit;
        for (var i = 0; i < _count; i++)
        {
            var writer = _writers[i];
            _writers[i] = null!;
            if (inline)
            {
                writer.RunWriter();
            }
            else
            {
                writer.ScheduleDrain();
            }
        }

        _count = 0;
        _starting = false;
        if (_writers.Length > KeptCapacity)
        {
            _writers = new ConnectedClient[InlineWriterLimit];
        }
    }
}
