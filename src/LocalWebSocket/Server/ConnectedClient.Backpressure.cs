using System.Diagnostics;

namespace LocalWebSocket.Server;

/// <summary>
/// Relay backpressure: a client that sends faster than the room can take it is read more slowly, rather
/// than filling everyone's send queue until the server takes them all for slow consumers. When a receiver
/// of a relayed message has a congested queue (over an eighth of
/// <see cref="LocalWebSocketServerOptions.SendQueueCapacity"/> or of
/// <see cref="LocalWebSocketServerOptions.SendQueueMaxBytes"/>) and the sender has more than its fair share
/// of messages not yet delivered everywhere (<see cref="CountRelayed"/>), the sender's
/// receive loop waits, before it reads its next message, until the first such receiver has drained to half
/// of that; TCP's flow control then slows the sender down to the rate the receivers drain. Senders at a human or a game's pace
/// never wait. A receiver that makes no progress for <see cref="StallTimeout"/> while a sender waits for it
/// has stopped reading: it is no reason to wait, and is left to <see cref="SendQueueFullMode"/>.
/// </summary>
public sealed partial class ConnectedClient
{
    /// <summary>How long a sender waits for a congested receiver that does not drain at all.</summary>
    private static readonly TimeSpan StallTimeout = TimeSpan.FromMilliseconds(100);

    // Guarded by _sendQueue (this client as a receiver): the task senders that wait for this queue to drain
    // share, made on demand; and whether the queue made no progress while a sender waited for it, which
    // keeps it out of the congestion count until it drains.
    private TaskCompletionSource? _drainedForRelay;
    private bool _relayStalled;

    // Only this client's receive loop touches them (this client as a sender): the receiver to wait for before
    // the next message is read, set while routing the last one; and the weight of this client's relayed
    // messages still held by some queue (made at its first relayed message).
    private ConnectedClient? _relayWaitFor;
    private Internal.RelayCounter? _relayCounter;

    /// <summary>
    /// Counts a message this client relays until it is delivered everywhere, and tells whether this sender now
    /// has more than its fair share in flight, which makes it the one a congested room waits for. Every
    /// message weighs its length and at least a queue slot's share of the byte limit (8 KiB by default), and
    /// the share is a sixteenth of the congested byte depth: 64 small messages or 512 KiB by default, over
    /// half a second of a game's 100 messages a second, far below what a flood leaves. For the router, on
    /// this client's receive loop.
    /// </summary>
    internal bool CountRelayed(Internal.OutgoingMessage message)
    {
        var relay = _relayCounter ??= new Internal.RelayCounter();
        var slot = Math.Max(1, _options.SendQueueMaxBytes / _options.SendQueueCapacity);
        return message.CountIn(relay, Math.Max(message.Length, slot)) > CongestedBytes / 16;
    }

    // A queue is congested past an eighth of either of its limits, and drained at half of that.
    private int CongestedDepth => Math.Max(16, _options.SendQueueCapacity / 8);

    private long CongestedBytes => Math.Max(16, _options.SendQueueMaxBytes / 8);

    /// <summary>
    /// Whether this receiver's queue is congested and draining. Read without the lock, by routers: a stale
    /// count only moves a pause by a message.
    /// </summary>
    internal bool IsCongestedForRelay =>
        (_sendQueue.Count > CongestedDepth || Volatile.Read(ref _queuedBytes) > CongestedBytes) && !Volatile.Read(ref _relayStalled);

    private bool IsDrainedForRelayLocked
    {
        get
        {
            Debug.Assert(Monitor.IsEntered(_sendQueue), "The client's state is guarded by its queue's monitor.");
            return _closing || (_sendQueue.Count <= CongestedDepth / 2 && _queuedBytes <= CongestedBytes / 2);
        }
    }

    /// <summary>Called by the router, on this client's receive loop: wait for <paramref name="receiver"/> before reading on.</summary>
    internal void PauseRelayingFor(ConnectedClient receiver) => _relayWaitFor = receiver;

    /// <summary>On the receive loop, between two messages: waits for the receiver the last routing named, if any.</summary>
    private ValueTask WaitForRelayAsync()
    {
        if (_relayWaitFor is not { } receiver)
        {
            return ValueTask.CompletedTask;
        }

        _relayWaitFor = null;
        return WaitForReceiverAsync(receiver);
    }

    private async ValueTask WaitForReceiverAsync(ConnectedClient receiver)
    {
        // The writers this loop woke must run, or nothing drains.
        EndBatch();
        var drained = receiver.WhenDrainedForRelay();
        if (drained.IsCompleted)
        {
            return;
        }

        try
        {
            await drained.WaitAsync(StallTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            receiver.MarkRelayStalled();
        }
    }

    private Task WhenDrainedForRelay()
    {
        lock (_sendQueue)
        {
            if (IsDrainedForRelayLocked)
            {
                return Task.CompletedTask;
            }

            return (_drainedForRelay ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    private void MarkRelayStalled()
    {
        lock (_sendQueue)
        {
            _relayStalled = !IsDrainedForRelayLocked;
        }
    }

    /// <summary>After messages left the queue: wakes the senders waiting for it once it has drained enough.</summary>
    private void OnQueueShrunkLocked()
    {
        Debug.Assert(Monitor.IsEntered(_sendQueue), "The client's state is guarded by its queue's monitor.");
        if ((_drainedForRelay is not null || _relayStalled) && IsDrainedForRelayLocked)
        {
            _relayStalled = false;
            _drainedForRelay?.TrySetResult();
            _drainedForRelay = null;
        }
    }
}
