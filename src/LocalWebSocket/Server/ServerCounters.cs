namespace LocalWebSocket.Server;

/// <summary>The live counters behind <see cref="ServerStatistics"/>, updated without locks.</summary>
internal sealed class ServerCounters
{
    private long _connectionsAccepted;
    private long _clientsJoined;
    private long _requestsRejected;
    private long _handshakeTimeouts;
    private long _authenticationFailures;
    private long _clientsRefused;
    private long _messagesRejected;
    private long _hookFailures;
    private long _perIpLimitRejections;
    private long _handshakeRateLimited;
    private long _originRejections;
    private long _idleTimeouts;
    private long _tlsFailures;
    private long _overMaxConnections;
    private long _detailsRequests;
    private long _routeRequests;
    private long _messagesReceived;
    private long _bytesReceived;
    private long _messagesSent;
    private long _bytesSent;
    private long _messagesDropped;
    private long _slowClientsDisconnected;
    private long _oversizedMessages;
    private long _streamItemsDropped;

    public void CountAccepted() => Interlocked.Increment(ref _connectionsAccepted);

    public void CountJoined() => Interlocked.Increment(ref _clientsJoined);

    public void CountRejected() => Interlocked.Increment(ref _requestsRejected);

    public void CountHandshakeTimeout() => Interlocked.Increment(ref _handshakeTimeouts);

    public void CountAuthenticationFailure() => Interlocked.Increment(ref _authenticationFailures);

    public void CountClientRefused() => Interlocked.Increment(ref _clientsRefused);

    public void CountMessageRejected() => Interlocked.Increment(ref _messagesRejected);

    public void CountHookFailure() => Interlocked.Increment(ref _hookFailures);

    public void CountPerIpLimit() => Interlocked.Increment(ref _perIpLimitRejections);

    public void CountHandshakeRateLimited() => Interlocked.Increment(ref _handshakeRateLimited);

    public void CountOriginRejected() => Interlocked.Increment(ref _originRejections);

    public void CountIdleTimeout() => Interlocked.Increment(ref _idleTimeouts);

    public void CountTlsFailure() => Interlocked.Increment(ref _tlsFailures);

    public void CountOverMaxConnections() => Interlocked.Increment(ref _overMaxConnections);

    public void CountDetailsRequest() => Interlocked.Increment(ref _detailsRequests);

    public void CountRouteRequest() => Interlocked.Increment(ref _routeRequests);

    public void CountReceived(int messages, long bytes)
    {
        Interlocked.Add(ref _messagesReceived, messages);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    public void CountSent(int messages, long bytes)
    {
        Interlocked.Add(ref _messagesSent, messages);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    public void CountDropped(int messages) => Interlocked.Add(ref _messagesDropped, messages);

    public void CountSlowClient() => Interlocked.Increment(ref _slowClientsDisconnected);

    public void CountOversized() => Interlocked.Increment(ref _oversizedMessages);

    public void CountStreamItemDropped() => Interlocked.Increment(ref _streamItemsDropped);

    public ServerStatistics Snapshot(int clientsConnected, int openConnections) => new()
    {
        ConnectionsAccepted = Interlocked.Read(ref _connectionsAccepted),
        ClientsJoined = Interlocked.Read(ref _clientsJoined),
        ClientsConnected = clientsConnected,
        OpenConnections = openConnections,
        RequestsRejected = Interlocked.Read(ref _requestsRejected),
        HandshakeTimeouts = Interlocked.Read(ref _handshakeTimeouts),
        AuthenticationFailures = Interlocked.Read(ref _authenticationFailures),
        ClientsRefused = Interlocked.Read(ref _clientsRefused),
        MessagesRejected = Interlocked.Read(ref _messagesRejected),
        HookFailures = Interlocked.Read(ref _hookFailures),
        PerIpConnectionLimitRejections = Interlocked.Read(ref _perIpLimitRejections),
        HandshakesRateLimited = Interlocked.Read(ref _handshakeRateLimited),
        OriginRejections = Interlocked.Read(ref _originRejections),
        IdleTimeouts = Interlocked.Read(ref _idleTimeouts),
        TlsHandshakeFailures = Interlocked.Read(ref _tlsFailures),
        MaxConnectionsRejections = Interlocked.Read(ref _overMaxConnections),
        DetailsRequests = Interlocked.Read(ref _detailsRequests),
        RouteRequests = Interlocked.Read(ref _routeRequests),
        MessagesReceived = Interlocked.Read(ref _messagesReceived),
        BytesReceived = Interlocked.Read(ref _bytesReceived),
        MessagesSent = Interlocked.Read(ref _messagesSent),
        BytesSent = Interlocked.Read(ref _bytesSent),
        MessagesDropped = Interlocked.Read(ref _messagesDropped),
        SlowClientsDisconnected = Interlocked.Read(ref _slowClientsDisconnected),
        OversizedMessages = Interlocked.Read(ref _oversizedMessages),
        StreamItemsDropped = Interlocked.Read(ref _streamItemsDropped),
    };
}
