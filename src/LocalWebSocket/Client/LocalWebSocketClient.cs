using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Client;

/// <summary>
/// A WebSocket client for <see cref="Server.LocalWebSocketServer"/>s, Dart <c>local_websocket</c> servers,
/// and any RFC 6455 server: sends text, bytes and JSON, and exposes messages and connection state as
/// events and streams.
/// </summary>
/// <remarks>
/// All members are thread-safe; sends from many threads go out one at a time, each message whole. Each
/// stream (<see cref="Messages"/>, <see cref="StateChanges"/>) can be enumerated by many readers at once,
/// each with its own buffer of <see cref="LocalWebSocketClientOptions.StreamBufferCapacity"/> items.
/// </remarks>
public sealed class LocalWebSocketClient : IAsyncDisposable
{
    private readonly LocalWebSocketClientOptions _options;
    private readonly Lock _stateGate = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly EventStream<WebSocketMessage> _messages;
    private readonly EventStream<ConnectionStateChangedEventArgs> _stateChanges;

    private ConnectionState _state = ConnectionState.Disconnected;
    private WebSocket? _webSocket;
    private Task? _receiveLoop;
    private CancellationTokenSource? _connectionAbort;
    private LocalWebSocketException? _pendingError;
    private bool _disposed;

    /// <summary>Creates a client; it connects with <see cref="ConnectAsync(Uri, CancellationToken)"/>.</summary>
    /// <param name="options">Settings; copied, so later changes to the object do not affect this client.</param>
    /// <exception cref="ArgumentException">A header or subprotocol in <paramref name="options"/> is not valid HTTP.</exception>
    public LocalWebSocketClient(LocalWebSocketClientOptions? options = null)
    {
        _options = (options ?? new LocalWebSocketClientOptions()).Snapshot();
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

    /// <summary>The details sent as query parameters on every connection.</summary>
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

    /// <summary>Whether the client is connected.</summary>
    public bool IsConnected => State == ConnectionState.Connected;

    /// <summary>The URL of the current or last connection, details included.</summary>
    public Uri? Url { get; private set; }

    /// <summary>The subprotocol the server chose, if any.</summary>
    public string? SubProtocol { get; private set; }

    /// <summary>Every message received, text or binary as sent.</summary>
    public IAsyncEnumerable<WebSocketMessage> Messages => _messages;

    /// <summary>Every change of connection state.</summary>
    public IAsyncEnumerable<ConnectionStateChangedEventArgs> StateChanges => _stateChanges;

    /// <summary>Connects to a server's WebSocket URL, e.g. <c>ws://192.168.1.20:8080/ws</c>.</summary>
    /// <inheritdoc cref="ConnectAsync(Uri, CancellationToken)"/>
    public Task ConnectAsync(string url, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return ConnectAsync(new Uri(url, UriKind.Absolute), cancellationToken);
    }

    /// <summary>
    /// Connects to a server's WebSocket URL, sending <see cref="Details"/> as query parameters. The whole
    /// attempt (name resolution, TCP, handshake) is bounded by <see cref="LocalWebSocketClientOptions.ConnectTimeout"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is not a <c>ws://</c> URL.</exception>
    /// <exception cref="InvalidOperationException">The client is already connected or connecting.</exception>
    /// <exception cref="LocalWebSocketException">The attempt failed: <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>,
    /// <see cref="LocalWebSocketErrorCode.ConnectTimeout"/>, <see cref="LocalWebSocketErrorCode.AuthenticationFailed"/> (401/403)
    /// or <see cref="LocalWebSocketErrorCode.HandshakeFailed"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task ConnectAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var requestUri = ClientHandshake.BuildRequestUri(url, Details);

        // Checked and changed in one step, so that of two concurrent calls exactly one connects.
        SetState(ConnectionState.Connecting, requiredCurrent: ConnectionState.Disconnected);
        Url = requestUri;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        WebSocket webSocket;
        try
        {
            (webSocket, var subProtocol) = await ClientHandshake.ConnectAsync(requestUri, _options, timeout.Token).ConfigureAwait(false);
            SubProtocol = subProtocol;
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            var error = new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectTimeout, $"Connecting to {url} took longer than {_options.ConnectTimeout.TotalSeconds:0.###} s.", null, exception);
            SetState(ConnectionState.Disconnected, error: error);
            throw error;
        }
        catch (LocalWebSocketException error)
        {
            SetState(ConnectionState.Disconnected, error: error);
            throw;
        }
        catch (Exception exception)
        {
            SetState(ConnectionState.Disconnected, error: new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectionFailed, exception.Message, null, exception));
            throw;
        }

        var abort = new CancellationTokenSource();
        lock (_stateGate)
        {
            _webSocket = webSocket;
            _connectionAbort = abort;
            _pendingError = null;
        }

        SetState(ConnectionState.Connected);
        _receiveLoop = ReceiveLoopAsync(webSocket, abort);
    }

    /// <summary>Sends a text message.</summary>
    /// <exception cref="LocalWebSocketException"><see cref="LocalWebSocketErrorCode.NotConnected"/>, or
    /// <see cref="LocalWebSocketErrorCode.ConnectionFailed"/> when the connection broke while sending.</exception>
    public async ValueTask SendAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(Encoding.UTF8.GetMaxByteCount(text.Length), 1));
        try
        {
            var length = Encoding.UTF8.GetBytes(text, buffer);
            await SendCoreAsync(buffer.AsMemory(0, length), WebSocketMessageType.Text, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends a binary message.</summary>
    /// <inheritdoc cref="SendAsync(string, CancellationToken)"/>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendCoreAsync(data, WebSocketMessageType.Binary, cancellationToken);

    /// <summary>Sends a message as it is, text or binary.</summary>
    /// <inheritdoc cref="SendAsync(string, CancellationToken)"/>
    public ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return SendCoreAsync(message.Data, message.Type, cancellationToken);
    }

    /// <summary>Sends <paramref name="value"/> as JSON in a text message, with source-generated metadata.</summary>
    /// <inheritdoc cref="SendAsync(string, CancellationToken)"/>
    public ValueTask SendJsonAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default) =>
        SendCoreAsync(JsonSerializer.SerializeToUtf8Bytes(value, jsonTypeInfo), WebSocketMessageType.Text, cancellationToken);

    /// <summary>Sends <paramref name="value"/> as JSON in a text message, serialised by reflection.</summary>
    /// <inheritdoc cref="SendAsync(string, CancellationToken)"/>
    [RequiresUnreferencedCode("JSON serialisation by reflection; use the JsonTypeInfo overload for trimming.")]
    [RequiresDynamicCode("JSON serialisation by reflection; use the JsonTypeInfo overload for native AOT.")]
    public ValueTask SendJsonAsync<T>(T value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default) =>
        SendCoreAsync(JsonSerializer.SerializeToUtf8Bytes(value, options), WebSocketMessageType.Text, cancellationToken);

    private async ValueTask SendCoreAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            WebSocket? webSocket;
            lock (_stateGate)
            {
                webSocket = _state == ConnectionState.Connected ? _webSocket : null;
            }

            if (webSocket is null)
            {
                throw new LocalWebSocketException(LocalWebSocketErrorCode.NotConnected, "The client is not connected.");
            }

            try
            {
                await webSocket.SendAsync(data, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
            {
                throw new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "The connection broke while sending.", null, exception);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Closes the connection with 1000 (normal closure) and waits for the server's close, at most
    /// <see cref="LocalWebSocketClientOptions.CloseTimeout"/>. Does nothing when not connected.
    /// </summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        WebSocket? webSocket;
        Task? receiveLoop;
        lock (_stateGate)
        {
            if (_state != ConnectionState.Connected)
            {
                return;
            }

            webSocket = _webSocket;
            receiveLoop = _receiveLoop;
        }

        SetState(ConnectionState.Disconnecting);
        await CloseOutputAsync(webSocket!, WebSocketCloseStatus.NormalClosure, null).ConfigureAwait(false);
        if (receiveLoop is not null)
        {
            await receiveLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Disconnects if connected and ends the streams. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await DisconnectAsync().ConfigureAwait(false);
        _messages.Complete();
        _stateChanges.Complete();
    }

    /// <summary>Sends a close frame, once, through the send lock; bounds the wait for the server's answer.</summary>
    private async Task CloseOutputAsync(WebSocket webSocket, WebSocketCloseStatus status, string? reason)
    {
        lock (_stateGate)
        {
            _connectionAbort?.CancelAfter(_options.CloseTimeout);
        }

        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(_options.CloseTimeout);
                await webSocket.CloseOutputAsync(status, reason, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is already gone; the receive loop reports how it ended.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReceiveLoopAsync(WebSocket webSocket, CancellationTokenSource abort)
    {
        // Leave ConnectAsync's caller at once.
        await Task.Yield();
        var token = abort.Token;
        LocalWebSocketException? error = null;
        try
        {
            while (true)
            {
                var first = await webSocket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
                if (first.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                var message = await ReceiveMessageAsync(webSocket, first, token).ConfigureAwait(false);
                if (message is null)
                {
                    break;
                }

                Deliver(message);
            }

            if (webSocket.State == WebSocketState.CloseReceived)
            {
                await CloseOutputAsync(webSocket, webSocket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, webSocket.CloseStatusDescription)
                    .ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Aborted after a close timeout.
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
        {
            error = new LocalWebSocketException(
                exception is WebSocketException { WebSocketErrorCode: WebSocketError.Faulted or WebSocketError.InvalidMessageType or WebSocketError.HeaderError }
                    ? LocalWebSocketErrorCode.ProtocolError
                    : LocalWebSocketErrorCode.ConnectionFailed,
                "The connection broke: " + exception.Message,
                null,
                exception);
        }

        var status = webSocket.CloseStatus;
        var description = webSocket.CloseStatusDescription;
        lock (_stateGate)
        {
            error ??= _pendingError;
            _webSocket = null;
            _connectionAbort = null;
        }

        if (error is null && status is { } closeStatus
            && (closeStatus == WebSocketCloseStatus.PolicyViolation || (int)closeStatus == ProtocolConstants.DartValidationFailedCloseCode))
        {
            error = new LocalWebSocketException(
                LocalWebSocketErrorCode.ValidationFailed,
                string.IsNullOrEmpty(description) ? "The server refused this client." : description);
        }

        webSocket.Dispose();
        abort.Dispose();
        SetState(ConnectionState.Disconnected, status, description, error);
    }

    private async ValueTask<WebSocketMessage?> ReceiveMessageAsync(WebSocket webSocket, ValueWebSocketReceiveResult first, CancellationToken token)
    {
        var message = await MessageAssembler.ReceiveAsync(webSocket, first, _options.MaxMessageSize, token).ConfigureAwait(false);
        switch (message.Outcome)
        {
            case AssemblyOutcome.Complete:
                // The application keeps messages: it gets an exact-size copy, and the pooled buffer goes back.
                var data = message.Buffer.AsSpan(0, message.Length).ToArray();
                ArrayPool<byte>.Shared.Return(message.Buffer!);
                return WebSocketMessage.FromOwned(message.Type, data);

            case AssemblyOutcome.TooLarge:
                lock (_stateGate)
                {
                    _pendingError = new LocalWebSocketException(
                        LocalWebSocketErrorCode.MessageTooLarge, $"The server sent a message over {_options.MaxMessageSize} bytes.");
                }

                await CloseOutputAsync(webSocket, WebSocketCloseStatus.MessageTooBig, "Message too big").ConfigureAwait(false);
                return null;

            default:
                return null;
        }
    }

    private void Deliver(WebSocketMessage message)
    {
        // Streams first: a handler that reacts to the event by starting to read a stream must not get
        // this same message again from it.
        _messages.Publish(message);
        try
        {
            MessageReceived?.Invoke(this, message);
        }
        catch (Exception exception)
        {
            // A throwing handler must not end the connection; the message still reaches the streams.
            System.Diagnostics.Trace.TraceError($"A MessageReceived handler threw: {exception}");
        }
    }

    private void SetState(
        ConnectionState state,
        WebSocketCloseStatus? closeStatus = null,
        string? closeDescription = null,
        LocalWebSocketException? error = null,
        ConnectionState? requiredCurrent = null)
    {
        ConnectionStateChangedEventArgs change;
        lock (_stateGate)
        {
            if (requiredCurrent is { } required && _state != required)
            {
                throw new InvalidOperationException($"The client is {_state.ToString().ToLowerInvariant()}; disconnect first.");
            }

            if (_state == state)
            {
                return;
            }

            change = new ConnectionStateChangedEventArgs(state, _state, closeStatus, closeDescription, error);
            _state = state;
        }

        _stateChanges.Publish(change);
        try
        {
            StateChanged?.Invoke(this, change);
        }
        catch (Exception exception)
        {
            System.Diagnostics.Trace.TraceError($"A StateChanged handler threw: {exception}");
        }
    }
}
