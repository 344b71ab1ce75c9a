using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LocalWebSocket.Client;

public sealed partial class LocalWebSocketClient
{
    // Orders the connection's own sends (after-connect hook, outbox, close); messages sent while connected do
    // not take it.
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Queue<OutboxEntry> _outbox = new();

    /// <summary>Sends a text message.</summary>
    /// <remarks>
    /// The send completes once the message is handed to the connection, as a socket write does: written to the
    /// socket, or, when it follows other sends with no await in between, buffered to go out with them in one
    /// socket write as soon as the sender awaits something (at most 64 KiB wait; past that a send waits for
    /// them). That is no delivery receipt: a message lost with a broken connection shows in
    /// <see cref="StateChanged"/>, not in the send that handed it over.
    /// </remarks>
    /// <exception cref="LocalWebSocketException"><see cref="LocalWebSocketErrorCode.NotConnected"/> (or, in
    /// <see cref="OfflineSendMode.Queue"/> mode, when the client disconnects or gives up before the message went out),
    /// <see cref="LocalWebSocketErrorCode.OutboxFull"/>, or <see cref="LocalWebSocketErrorCode.ConnectionFailed"/> when the
    /// connection broke while sending.</exception>
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_options.Interceptors.Count > 0)
        {
            var message = await InterceptSendingAsync(type == WebSocketMessageType.Text
                ? WebSocketMessage.FromOwned(type, data.ToArray())
                : WebSocketMessage.FromBytes(data.Span), cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                return;
            }

            (data, type) = (message.Data, message.Type);
        }

        // Connected: straight to the WebSocket. No lock of ours per message: the WebSocket's own send lock keeps
        // concurrent messages whole (each is one frame), and a message queued while connecting has been sent
        // before the connection is open for sends.
        var connection = Volatile.Read(ref _openForSends);
        if (connection is null)
        {
            connection = OpenConnectionOrQueue(data, type, out var queued);
            if (queued is not null)
            {
                await queued.WaitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        await connection!.SendAsync(data, type, cancellationToken).ConfigureAwait(false);
        _counters.CountSent(data.Length);
    }

    /// <summary>
    /// For a message sent when no connection was open for sends: the connection it may have become since, or
    /// else the message's place in the outbox (in <see cref="OfflineSendMode.Queue"/> mode, while connecting).
    /// </summary>
    private ClientConnection? OpenConnectionOrQueue(ReadOnlyMemory<byte> data, WebSocketMessageType type, out OutboxEntry? queued)
    {
        lock (_stateGate)
        {
            queued = null;
            if (_openForSends is { } open)
            {
                return open;
            }

            if (_options.OfflineSendMode != OfflineSendMode.Queue || _state is not (ConnectionState.Connecting or ConnectionState.Reconnecting))
            {
                throw new LocalWebSocketException(LocalWebSocketErrorCode.NotConnected, $"The client is {_state.ToString().ToLowerInvariant()}, not connected.");
            }

            if (_outbox.Count >= _options.OutboxCapacity)
            {
                throw new LocalWebSocketException(
                    LocalWebSocketErrorCode.OutboxFull, $"The outbox is full ({_options.OutboxCapacity} messages wait for a connection).");
            }

            queued = new OutboxEntry(data.ToArray(), type);
            _outbox.Enqueue(queued);
            return null;
        }
    }

    private async ValueTask<WebSocketMessage?> InterceptSendingAsync(WebSocketMessage message, CancellationToken cancellationToken)
    {
        foreach (var interceptor in _options.Interceptors)
        {
            if (await interceptor.OnSendingAsync(message, cancellationToken).ConfigureAwait(false) is not { } next)
            {
                return null;
            }

            message = next;
        }

        return message;
    }

    /// <summary>
    /// Sends the outbox in order on a new connection (the caller holds the send lock), then reports the
    /// connected state in the same step as it finds the outbox empty, so no send can slip in between.
    /// </summary>
    private async Task<ConnectionStateChangedEventArgs?> FlushOutboxAsync(ClientConnection connection, bool isReconnect, CancellationToken cancellationToken)
    {
        while (true)
        {
            OutboxEntry? entry;
            lock (_stateGate)
            {
                if (!_outbox.TryDequeue(out entry))
                {
                    return TransitionLocked(isReconnect ? ConnectionState.Reconnected : ConnectionState.Connected);
                }
            }

            if (!entry.TryStartSending())
            {
                continue;
            }

            try
            {
                await connection.SendAsync(entry.Data, entry.Type, cancellationToken).ConfigureAwait(false);
                _counters.CountSent(entry.Data.Length);
                entry.Sent();
            }
            catch (Exception exception)
            {
                entry.Failed(exception);
                throw;
            }
        }
    }

    private void FailOutbox(LocalWebSocketException error)
    {
        List<OutboxEntry> failed;
        lock (_stateGate)
        {
            failed = [.. _outbox];
            _outbox.Clear();
        }

        foreach (var entry in failed)
        {
            entry.Failed(error);
        }
    }

    /// <summary>A message waiting for a connection; its sender awaits it.</summary>
    private sealed class OutboxEntry(byte[] data, WebSocketMessageType type)
    {
        private const int Waiting = 0;
        private const int Sending = 1;
        private const int Done = 2;

        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _status;

        public byte[] Data { get; } = data;

        public WebSocketMessageType Type { get; } = type;

        /// <summary>False when the sender gave up waiting: the message is skipped, not sent late.</summary>
        public bool TryStartSending() => Interlocked.CompareExchange(ref _status, Sending, Waiting) == Waiting;

        public void Sent()
        {
            Volatile.Write(ref _status, Done);
            _completion.TrySetResult();
        }

        public void Failed(Exception error)
        {
            Volatile.Write(ref _status, Done);
            _completion.TrySetException(error);
        }

        public async Task WaitAsync(CancellationToken cancellationToken)
        {
            using var registration = cancellationToken.Register(static state =>
            {
                var entry = (OutboxEntry)state!;
                if (Interlocked.CompareExchange(ref entry._status, Done, Waiting) == Waiting)
                {
                    entry._completion.TrySetCanceled();
                }
            }, this);
            await _completion.Task.ConfigureAwait(false);
        }
    }
}
