using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LocalWebSocket.Client;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Testing;

/// <summary>
/// An in-memory <see cref="ILocalWebSocketClient"/> for unit tests of application code: no network. Tests
/// inject incoming messages and state changes, and read what the code sent from <see cref="SentMessages"/>.
/// </summary>
/// <remarks>
/// <see cref="ConnectAsync"/> goes Connecting then Connected at once (or throws what <see cref="NextConnectError"/>
/// holds); <see cref="SendAsync(string, CancellationToken)"/> records the message while connected and throws
/// <see cref="LocalWebSocketErrorCode.NotConnected"/> otherwise, as the real client's default does.
/// </remarks>
public sealed class FakeLocalWebSocketClient : ILocalWebSocketClient
{
    private readonly Lock _gate = new();
    private readonly List<WebSocketMessage> _sent = [];
    private readonly EventStream<WebSocketMessage> _messages = new(1024);
    private readonly EventStream<ConnectionStateChangedEventArgs> _stateChanges = new(1024);
    private ConnectionState _state = ConnectionState.Disconnected;

    /// <inheritdoc />
    public event EventHandler<WebSocketMessage>? MessageReceived;

    /// <inheritdoc />
    public event EventHandler<ConnectionStateChangedEventArgs>? StateChanged;

    /// <inheritdoc />
    public string Id { get; } = Guid.CreateVersion7().ToString("N");

    /// <inheritdoc />
    public ConnectionState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <inheritdoc />
    public bool IsConnected => State is ConnectionState.Connected or ConnectionState.Reconnected;

    /// <inheritdoc />
    public Uri? Url { get; private set; }

    /// <inheritdoc />
    public IAsyncEnumerable<WebSocketMessage> Messages => _messages;

    /// <inheritdoc />
    public IAsyncEnumerable<ConnectionStateChangedEventArgs> StateChanges => _stateChanges;

    /// <summary>Every message the code under test sent, in order.</summary>
    public IReadOnlyList<WebSocketMessage> SentMessages
    {
        get
        {
            lock (_gate)
            {
                return [.. _sent];
            }
        }
    }

    /// <summary>When set, the next <see cref="ConnectAsync"/> throws it (and clears it).</summary>
    public LocalWebSocketException? NextConnectError { get; set; }

    /// <summary>How many times <see cref="ReconnectNowAsync"/> was called.</summary>
    public int ReconnectNowCalls { get; private set; }

    /// <inheritdoc />
    public Task ConnectAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        cancellationToken.ThrowIfCancellationRequested();
        Url = url;
        SetState(ConnectionState.Connecting);
        if (NextConnectError is { } error)
        {
            NextConnectError = null;
            SetState(ConnectionState.Disconnected, error: error);
            return Task.FromException(error);
        }

        SetState(ConnectionState.Connected);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask SendAsync(string text, CancellationToken cancellationToken = default) =>
        Record(WebSocketMessage.FromText(text));

    /// <inheritdoc />
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        Record(WebSocketMessage.FromBytes(data.Span));

    /// <inheritdoc />
    public ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default) => Record(message);

    /// <inheritdoc />
    public ValueTask SendJsonAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default) =>
        Record(WebSocketMessage.FromJson(value, jsonTypeInfo));

    /// <inheritdoc />
#pragma warning disable RS0027 // As ILocalWebSocketClient: shipped with its optional token.
    public Task DisconnectAsync(CancellationToken cancellationToken = default) =>
        DisconnectAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
#pragma warning restore RS0027

    /// <inheritdoc />
    /// <remarks>The state goes Disconnecting then Disconnected with this code and reason, as the server echoes them.</remarks>
    public Task DisconnectAsync(WebSocketCloseStatus closeStatus, string? reason, CancellationToken cancellationToken)
    {
        // The real client's checks, so that a test with the fake catches a code the real client would refuse.
        Protocol.CloseCodes.EnsureSendable(closeStatus, reason, nameof(closeStatus), nameof(reason));
        if (IsConnected)
        {
            SetState(ConnectionState.Disconnecting);
            SetState(ConnectionState.Disconnected, closeStatus, reason);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ReconnectNowAsync(CancellationToken cancellationToken = default)
    {
        ReconnectNowCalls++;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ClientStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new ClientStatistics
            {
                State = _state,
                Url = Url,
                MessagesSent = _sent.Count,
                BytesSent = _sent.Sum(m => (long)m.Data.Length),
            };
        }
    }

    /// <summary>Delivers <paramref name="message"/> as if the server sent it: streams first, then the event.</summary>
    public void InjectMessage(WebSocketMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _messages.Publish(message);
        MessageReceived?.Invoke(this, message);
    }

    /// <summary>Delivers a text message as if the server sent it.</summary>
    public void InjectMessage(string text) => InjectMessage(WebSocketMessage.FromText(text));

    /// <summary>Delivers <paramref name="value"/> as JSON text as if the server sent it.</summary>
    public void InjectJson<T>(T value, JsonTypeInfo<T> jsonTypeInfo) => InjectMessage(WebSocketMessage.FromJson(value, jsonTypeInfo));

    /// <summary>Moves to <paramref name="state"/> as the real client would, e.g. Reconnecting after a drop.</summary>
    public void InjectState(
        ConnectionState state, WebSocketCloseStatus? closeStatus = null, string? closeDescription = null, LocalWebSocketException? error = null) =>
        SetState(state, closeStatus, closeDescription, error);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _messages.Complete();
        _stateChanges.Complete();
        return ValueTask.CompletedTask;
    }

    private ValueTask Record(WebSocketMessage message)
    {
        lock (_gate)
        {
            if (_state is not (ConnectionState.Connected or ConnectionState.Reconnected))
            {
                return ValueTask.FromException(new LocalWebSocketException(LocalWebSocketErrorCode.NotConnected, "The fake client is not connected."));
            }

            _sent.Add(message);
        }

        return ValueTask.CompletedTask;
    }

    private void SetState(ConnectionState state, WebSocketCloseStatus? closeStatus = null, string? closeDescription = null, LocalWebSocketException? error = null)
    {
        ConnectionStateChangedEventArgs change;
        lock (_gate)
        {
            if (_state == state)
            {
                return;
            }

            change = new ConnectionStateChangedEventArgs(state, _state, closeStatus, closeDescription, error);
            _state = state;
        }

        _stateChanges.Publish(change);
        StateChanged?.Invoke(this, change);
    }
}
