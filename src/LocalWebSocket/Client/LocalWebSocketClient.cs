using System.Net.WebSockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Client;

/// <summary>
/// A reconnecting WebSocket client for <see cref="Server.LocalWebSocketServer"/>s, Dart <c>local_websocket</c>
/// servers, and any RFC 6455 server: sends text, bytes and JSON; exposes messages and connection state as
/// events and streams; reconnects by itself by its <see cref="LocalWebSocketClientOptions.ReconnectPolicy"/>.
/// </summary>
/// <remarks>
/// <para>All members are thread-safe. Sends from many threads go out one at a time, each message whole.</para>
/// <para>It never reconnects by itself after <see cref="DisconnectAsync(CancellationToken)"/>, after an authentication refusal
/// (HTTP 401/403), or after a validation refusal (close 1008, or 3000 from Dart servers): those end in
/// <see cref="ConnectionState.Disconnected"/> with the error.</para>
/// <para>Each stream (<see cref="Messages"/>, <see cref="StateChanges"/>) can be enumerated by many readers at
/// once, each with its own buffer of <see cref="LocalWebSocketClientOptions.StreamBufferCapacity"/> items. Items
/// reach the streams before the events are raised.</para>
/// </remarks>
public sealed partial class LocalWebSocketClient : ILocalWebSocketClient
{
    private readonly LocalWebSocketClientOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _stateGate = new();
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly EventStream<WebSocketMessage> _messages;
    private readonly EventStream<ConnectionStateChangedEventArgs> _stateChanges;
    private readonly ClientCounters _counters;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly Internal.Telemetry.ClientInstruments _instruments;

    private ConnectionState _state = ConnectionState.Disconnected;
    private bool _disposed;

    /// <summary>Creates a client; it connects with <see cref="ConnectAsync(Uri, CancellationToken)"/>.</summary>
    /// <param name="options">Settings; copied, so later changes to the object do not affect this client.</param>
    /// <exception cref="ArgumentException">A header or subprotocol in <paramref name="options"/> is not valid HTTP.</exception>
    /// <param name="loggerFactory">Where the client logs (its connection's life at Debug, handlers that threw as errors); nowhere by default.</param>
    public LocalWebSocketClient(LocalWebSocketClientOptions? options = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        _logger = (Microsoft.Extensions.Logging.ILogger?)loggerFactory?.CreateLogger(typeof(LocalWebSocketClient).FullName!)
            ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _options = (options ?? new LocalWebSocketClientOptions()).Snapshot();
        _time = _options.TimeProvider;
        _instruments = Internal.Telemetry.ForClients(_options.MeterFactory);
        _counters = new ClientCounters(_instruments);
        Details = new Dictionary<string, string>(_options.Details, StringComparer.Ordinal).AsReadOnly();
        _messages = new(_options.StreamBufferCapacity);
        _stateChanges = new(_options.StreamBufferCapacity);
    }

    /// <summary>A message arrived. Raised on the receive loop: a slow handler delays the next message.</summary>
    public event EventHandler<WebSocketMessage>? MessageReceived;

    /// <summary>The connection state changed.</summary>
    public event EventHandler<ConnectionStateChangedEventArgs>? StateChanged;

    /// <summary>This client's own id (a version 7 GUID). It is not sent: servers give connections ids of their own.</summary>
    public string Id { get; } = Guid.CreateVersion7().ToString("N");

    /// <summary>The details sent as query parameters on every connection (unless <see cref="LocalWebSocketClientOptions.PrepareConnection"/> changes them).</summary>
    public IReadOnlyDictionary<string, string> Details { get; }

    /// <summary>The connection state now.</summary>
    public ConnectionState State
    {
        get
        {
            lock (_stateGate)
            {
                return _state;
            }
        }
    }

    /// <summary>Whether messages can be sent now (<see cref="ConnectionState.Connected"/> or <see cref="ConnectionState.Reconnected"/>).</summary>
    public bool IsConnected => State is ConnectionState.Connected or ConnectionState.Reconnected;

    /// <summary>The URL of the current or last connection, details included.</summary>
    public Uri? Url { get; private set; }

    /// <summary>The subprotocol the server chose on the current or last connection, if any.</summary>
    public string? SubProtocol { get; private set; }

    /// <summary>The extensions the server accepted on the current or last connection (permessage-deflate), if any.</summary>
    public string? Extensions { get; private set; }

    /// <summary>Every message received, text or binary as sent.</summary>
    public IAsyncEnumerable<WebSocketMessage> Messages => _messages;

    /// <summary>Every change of connection state.</summary>
    public IAsyncEnumerable<ConnectionStateChangedEventArgs> StateChanges => _stateChanges;

    /// <summary>Counters and connection facts.</summary>
    public ClientStatistics GetStatistics()
    {
        int queued;
        ConnectionState state;
        lock (_stateGate)
        {
            queued = _outbox.Count;
            state = _state;
        }

        return _counters.Snapshot(state, Url, queued);
    }

    /// <summary>Disconnects if connected, stops reconnecting, and ends the streams. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await DisconnectAsync().ConfigureAwait(false);
        _disposed = true;
        _messages.Complete();
        _stateChanges.Complete();
    }

    /// <summary>Called by the connection for every whole message: interceptors, metrics, streams, event.</summary>
    internal async ValueTask OnMessageReceivedAsync(WebSocketMessage message, CancellationToken cancellationToken)
    {
        _counters.CountReceived(message.Data.Length);
        var interceptors = _options.Interceptors;
        for (var i = interceptors.Count - 1; i >= 0; i--)
        {
            WebSocketMessage? intercepted;
            try
            {
                intercepted = await interceptors[i].OnReceivedAsync(message, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                _logger.InterceptorThrew(exception);
                return;
            }

            if (intercepted is null)
            {
                return;
            }

            message = intercepted;
        }

        // Streams first: a handler that reacts to the event by starting to read a stream must not get this
        // same message again from it.
        _messages.Publish(message);
        try
        {
            MessageReceived?.Invoke(this, message);
        }
        catch (Exception exception)
        {
            // A throwing handler must not end the connection.
            _logger.MessageHandlerThrew(exception);
        }
    }

    /// <summary>Changes the state; call with <see cref="_stateGate"/> held, then <see cref="Publish"/> the result outside it.</summary>
    private ConnectionStateChangedEventArgs? TransitionLocked(
        ConnectionState state, WebSocketCloseStatus? closeStatus = null, string? closeDescription = null, LocalWebSocketException? error = null)
    {
        System.Diagnostics.Debug.Assert(_stateGate.IsHeldByCurrentThread, "The state is guarded by _stateGate.");
        if (_state == state)
        {
            return null;
        }

        var change = new ConnectionStateChangedEventArgs(state, _state, closeStatus, closeDescription, error);
        _state = state;
        Volatile.Write(ref _openForSends, state is ConnectionState.Connected or ConnectionState.Reconnected ? _current : null);
        return change;
    }

    private void Transition(
        ConnectionState state, WebSocketCloseStatus? closeStatus = null, string? closeDescription = null, LocalWebSocketException? error = null)
    {
        ConnectionStateChangedEventArgs? change;
        lock (_stateGate)
        {
            change = TransitionLocked(state, closeStatus, closeDescription, error);
        }

        Publish(change);
    }

    private void Publish(ConnectionStateChangedEventArgs? change)
    {
        if (change is null)
        {
            return;
        }

        _stateChanges.Publish(change);
        try
        {
            StateChanged?.Invoke(this, change);
        }
        catch (Exception exception)
        {
            _logger.StateHandlerThrew(exception);
        }
    }
}
