namespace LocalWebSocket.Server;

/// <summary>
/// Messages and bytes one connection's loop handled since it last told the server's counters. Those are
/// shared by every connection: an atomic update of a shared cache line per message was a good share of a
/// small echo's cost, and what a fan-out's writers on several cores would contend on.
/// </summary>
internal struct MessageTally
{
    private int _messages;
    private long _bytes;

    public void Add(int bytes)
    {
        _messages++;
        _bytes += bytes;
    }

    /// <summary>Takes what was counted, if anything, and starts again from zero.</summary>
    public bool TryTake(out int messages, out long bytes)
    {
        messages = _messages;
        bytes = _bytes;
        _messages = 0;
        _bytes = 0;
        return messages > 0;
    }
}
