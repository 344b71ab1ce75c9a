using System.Net.WebSockets;

namespace LocalWebSocket.Client;

/// <summary>The live counters behind <see cref="ClientStatistics"/>, and the client's metrics beside them.</summary>
internal sealed class ClientCounters(Internal.Telemetry.ClientInstruments instruments)
{
    private readonly Lock _gate = new();
    private long _messagesSent;
    private long _bytesSent;
    private long _messagesReceived;
    private long _bytesReceived;
    private long _connects;
    private long _reconnectAttempts;
    private long _successfulReconnects;
    private long _disconnects;
    private WebSocketCloseStatus? _lastCloseStatus;
    private string? _lastCloseDescription;
    private DateTimeOffset? _lastConnectedAt;
    private int _currentAttempt;
    private DateTimeOffset? _nextAttemptAt;

    public void CountSent(int bytes)
    {
        Interlocked.Increment(ref _messagesSent);
        Interlocked.Add(ref _bytesSent, bytes);
        if (instruments.Messages.Enabled)
        {
            instruments.Messages.Add(1, Internal.Telemetry.Sent);
            instruments.Bytes.Add(bytes, Internal.Telemetry.Sent);
        }
    }

    public void CountReceived(int bytes)
    {
        Interlocked.Increment(ref _messagesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
        if (instruments.Messages.Enabled)
        {
            instruments.Messages.Add(1, Internal.Telemetry.Received);
            instruments.Bytes.Add(bytes, Internal.Telemetry.Received);
        }
    }

    public void CountConnected(DateTimeOffset at, bool isReconnect)
    {
        instruments.ActiveConnections.Add(1);
        if (isReconnect)
        {
            instruments.Reconnects.Add(1);
        }

        lock (_gate)
        {
            _connects++;
            _successfulReconnects += isReconnect ? 1 : 0;
            _lastConnectedAt = at;
            _currentAttempt = 0;
            _nextAttemptAt = null;
        }
    }

    public void CountDisconnected(WebSocketCloseStatus? status, string? description)
    {
        instruments.ActiveConnections.Add(-1);
        lock (_gate)
        {
            _disconnects++;
            if (status is not null)
            {
                _lastCloseStatus = status;
                _lastCloseDescription = description;
            }
        }
    }

    public void AttemptScheduled(int attempt, DateTimeOffset at)
    {
        lock (_gate)
        {
            _currentAttempt = attempt;
            _nextAttemptAt = at;
        }
    }

    public void AttemptStarted()
    {
        lock (_gate)
        {
            _reconnectAttempts++;
            _nextAttemptAt = null;
        }
    }

    public void AttemptsEnded()
    {
        lock (_gate)
        {
            _currentAttempt = 0;
            _nextAttemptAt = null;
        }
    }

    public DateTimeOffset? LastConnectedAt
    {
        get
        {
            lock (_gate)
            {
                return _lastConnectedAt;
            }
        }
    }

    public ClientStatistics Snapshot(ConnectionState state, Uri? url, int queued)
    {
        lock (_gate)
        {
            return new ClientStatistics
            {
                State = state,
                Url = url,
                MessagesSent = Interlocked.Read(ref _messagesSent),
                BytesSent = Interlocked.Read(ref _bytesSent),
                MessagesReceived = Interlocked.Read(ref _messagesReceived),
                BytesReceived = Interlocked.Read(ref _bytesReceived),
                Connects = _connects,
                ReconnectAttempts = _reconnectAttempts,
                SuccessfulReconnects = _successfulReconnects,
                Disconnects = _disconnects,
                LastCloseStatus = _lastCloseStatus,
                LastCloseDescription = _lastCloseDescription,
                LastConnectedAt = _lastConnectedAt,
                CurrentAttempt = _currentAttempt,
                NextAttemptAt = _nextAttemptAt,
                QueuedMessages = queued,
            };
        }
    }
}
