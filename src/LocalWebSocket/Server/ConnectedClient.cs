using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Server;

/// <summary>
/// A client connected to a <see cref="LocalWebSocketServer"/>: its identity, the details it sent, and the
/// way to send it messages or disconnect it.
/// </summary>
/// <remarks>
/// All public members are thread-safe. Messages sent to a client wait in its bounded send queue and are written
/// by one writer in order; a full queue is handled by <see cref="LocalWebSocketServerOptions.SendQueueFullMode"/>.
/// </remarks>
public sealed partial class ConnectedClient : IReceiveWaitHook
{
    // The concurrency contract of a client, across its four files. Three kinds of code touch it: its receive
    // loop (RunAsync, one at a time, for the connection's life), its writer (drains the queue on a send
    // scheduler, at most one at a time: _draining says whether one runs or is due), and everyone else (the app
    // sending, other clients' receive loops routing to it, the server stopping, timers).
    //   * Set once before the receive loop and the writer start, read freely after: the readonly fields, and
    //     _stream, _webSocket, _sendFlags (AttachWebSocket, before ReleaseSending lets the writer run).
    //   * Guarded by the monitor of _sendQueue (the *Locked members assert it is held): the queue and
    //     _queuedBytes, _draining, _closing, _closeSent, _closeStatus, _closeReason, _closeTimer, _left,
    //     _completion, _connectionAborted, _hooks, _closeWritten, _closeWrittenOrAbandoned, _drainedForRelay,
    //     _relayStalled. _closing, _left, _queuedBytes, _queueDiscarded and _relayStalled are also read without
    //     it (Volatile) where a stale value only delays a decision by a message.
    //   * The receive loop's alone: _received, _fanOut (the writers its routing woke, which it starts once it
    //     has routed what it read: see FanOutBatch), _relayWaitFor, _relayCounter.
    //   * Interlocked: _aborted (0 then 1, once), _lastReceived, _state (made once).
    private readonly LocalWebSocketServer _server;
    private readonly LocalWebSocketServerOptions _options;
    private readonly SendScheduler _scheduler;
    private readonly TimeProvider _time;

    // Attached by AttachWebSocket once the 101 response is out, before the writer or the receive loop runs:
    // so nothing (a keep-alive ping) can reach the peer before the 101, and no gate per connection holds it.
    // The stream too: a host (ASP.NET Core) hands it over only with the 101, after the client joined.
    private ServerConnectionStream _stream = null!;
    private WebSocket _webSocket = null!;

    // Set with _webSocket and read only by the writer: uncompressed when the client asked for an 8-bit window.
    private WebSocketMessageFlags _sendFlags = WebSocketMessageFlags.EndOfMessage;

    // The fields below are made on demand: an idle connection is one of thousands, and most never need them.
    private CancellationTokenSource? _connectionAborted;
    private ITimer? _closeTimer;
    private TaskCompletionSource? _completion;
    private Dictionary<object, object>? _state;

    private int _aborted;
    private bool _left;
    private Task _hooks = Task.CompletedTask;
    private long _lastReceived;

    internal ConnectedClient(
        LocalWebSocketServer server,
        LocalWebSocketServerOptions options,
        string id,
        IReadOnlyDictionary<string, string> details,
        IReadOnlyDictionary<string, string> metadata,
        IPEndPoint remoteEndPoint,
        DateTimeOffset connectedAt,
        string? subProtocol)
    {
        _server = server;
        _options = options;
        Id = id;
        Details = details;
        AuthenticationMetadata = metadata;
        _time = options.TimeProvider;
        _lastReceived = _time.GetTimestamp();
        RemoteEndPoint = remoteEndPoint;
        ConnectedAt = connectedAt;
        SubProtocol = subProtocol;
        _scheduler = server.NextSendScheduler();
    }

    /// <summary>The server's own id for this connection: unique, also across restarts (a version 7 GUID).</summary>
    public string Id { get; }

    /// <summary>The details the client sent as query parameters of its <c>/ws</c> request.</summary>
    public IReadOnlyDictionary<string, string> Details { get; }

    /// <summary>What the request authenticator kept about this client (empty when none).</summary>
    public IReadOnlyDictionary<string, string> AuthenticationMetadata { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>When the client joined.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>The negotiated subprotocol, if any.</summary>
    public string? SubProtocol { get; }

    /// <summary>Whether the client is connected and no close has started.</summary>
    public bool IsConnected => !Volatile.Read(ref _closing) && !Volatile.Read(ref _left);

    /// <summary>Completes when the client has left and its connection is released.</summary>
    public Task Completion
    {
        get
        {
            lock (_sendQueue)
            {
                return TaskOnDemand(ref _completion, _left);
            }
        }
    }

    /// <summary>Cancelled when the connection is dropped (an abort, a close timeout, the server stopping).</summary>
    internal CancellationToken ConnectionAborted
    {
        get
        {
            lock (_sendQueue)
            {
                if (_connectionAborted is null)
                {
                    _connectionAborted = new CancellationTokenSource();
                    if (Volatile.Read(ref _aborted) != 0)
                    {
                        _connectionAborted.Cancel();
                    }
                }

                return _connectionAborted.Token;
            }
        }
    }

    /// <summary>
    /// Closes the connection with <paramref name="closeStatus"/> after the messages already queued for it,
    /// and waits until the client has left (at most <see cref="LocalWebSocketServerOptions.CloseTimeout"/>,
    /// after which the connection is dropped).
    /// </summary>
    /// <param name="closeStatus">The close code, 1000 by default.</param>
    /// <param name="reason">The close reason (at most 123 UTF-8 bytes).</param>
    /// <param name="cancellationToken">Stops waiting; the close goes on.</param>
    public Task DisconnectAsync(
        WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure,
        string? reason = null,
        CancellationToken cancellationToken = default)
    {
        Protocol.CloseCodes.EnsureSendable(closeStatus, reason, nameof(closeStatus), nameof(reason));
        RequestClose(closeStatus, reason, discardQueued: false);
        return Completion.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Id} ({RemoteEndPoint})";

    /// <summary>
    /// Per-client state of a validator or handler (a rate limiter's bucket), created once per key; it lives
    /// and dies with the client, so memory stays O(1) per client per key.
    /// </summary>
    /// <typeparam name="T">The state's type.</typeparam>
    /// <param name="key">The owner of the state, usually the validator itself.</param>
    /// <param name="create">Makes the state the first time, given the key.</param>
    public T GetOrAddState<T>(object key, Func<object, T> create)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(create);
        var states = Volatile.Read(ref _state)
            ?? Interlocked.CompareExchange(ref _state, new Dictionary<object, object>(ReferenceEqualityComparer.Instance), null)
            ?? _state;
        lock (states)
        {
            if (!states.TryGetValue(key, out var state))
            {
                states[key] = state = create(key);
            }

            return (T)state;
        }
    }

    /// <summary>The per-IP connection slot, freed as the client leaves, before anyone hears that it left.</summary>
    internal IDisposable? AddressSlot { get; set; }

    /// <summary>The server clock's <see cref="TimeProvider.GetTimestamp"/> of the last message received, for the idle timeout.</summary>
    internal long LastReceivedTimestamp => Volatile.Read(ref _lastReceived);

    internal void MarkReceived()
    {
        // Only the idle check reads it, and it is off by default: no clock read per message then.
        if (_options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
        }
    }

    /// <summary>
    /// Runs a lifecycle hook after the ones queued before it, off the caller's thread, bounded by the hook
    /// timeout; failures are logged. Hooks of one client never overlap and keep their order.
    /// </summary>
    internal void QueueHook(string name, Func<CancellationToken, ValueTask> hook)
    {
        lock (_sendQueue)
        {
            _hooks = _hooks.ContinueWith(
                async _ =>
                {
                    using var limit = new CancellationTokenSource(_options.HookTimeout, _time);
                    try
                    {
                        await hook(limit.Token).AsTask().WaitAsync(_options.HookTimeout, _time).ConfigureAwait(false);
                    }
                    catch (Exception exception)
                    {
                        // A hook that timed out may still run: its token tells it so. The wait's own timer can
                        // fire before the token's, and disposing the source then would leave the token forever
                        // uncancelled (found on a fake clock, where both fire at the same instant).
                        await limit.CancelAsync().ConfigureAwait(false);
                        _server.Counters.CountHookFailure();
                        _server.Logger.HookFailed(exception, name, Id);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default).Unwrap();
        }
    }

    /// <summary>Completes when the hooks queued so far have run.</summary>
    internal Task HooksIdle
    {
        get
        {
            lock (_sendQueue)
            {
                return _hooks;
            }
        }
    }

    /// <summary>
    /// Gives the client its connection once the 101 response is out. A client dropped before that (the server
    /// stopping, the 101 failing) gets an aborted one, so its receive loop ends at once.
    /// </summary>
    internal void AttachWebSocket(ServerConnectionStream stream, WebSocket webSocket, WebSocketMessageFlags sendFlags = WebSocketMessageFlags.EndOfMessage)
    {
        Debug.Assert(sendFlags.HasFlag(WebSocketMessageFlags.EndOfMessage), "Every message goes in one frame.");
        Debug.Assert(_stream is null, "A client is attached once.");
        _stream = stream;
        _sendFlags = sendFlags;
        // Exchange on both sides (here and in Abort) orders them: one of the two sees the other's write.
        Interlocked.Exchange(ref _webSocket, webSocket);
        if (Volatile.Read(ref _aborted) != 0)
        {
            webSocket.Abort();
        }
    }

    /// <summary>Drops the connection at once, without a close handshake.</summary>
    internal void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        // Aborting the WebSocket disposes the connection under any receive or send in flight, which ends them.
        Volatile.Read(ref _webSocket)?.Abort();
        SignalCloseWritten();
        CancellationTokenSource? aborted;
        lock (_sendQueue)
        {
            aborted = _connectionAborted;
        }

        aborted?.Cancel();
    }

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>
    /// The task of a completion made only when someone waits for it (few do, and there are thousands of
    /// clients); already complete when <paramref name="done"/>. Call with the queue locked.
    /// </summary>
    private static Task TaskOnDemand(ref TaskCompletionSource? completion, bool done) =>
        done ? Task.CompletedTask : (completion ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
}
