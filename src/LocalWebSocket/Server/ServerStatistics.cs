namespace LocalWebSocket.Server;

/// <summary>Counters of a <see cref="LocalWebSocketServer"/> since it was created, read at one moment.</summary>
public sealed record ServerStatistics
{
    /// <summary>TCP connections accepted.</summary>
    public long ConnectionsAccepted { get; init; }

    /// <summary>Clients that completed the WebSocket handshake and joined.</summary>
    public long ClientsJoined { get; init; }

    /// <summary>Clients connected now.</summary>
    public int ClientsConnected { get; init; }

    /// <summary>
    /// TCP connections open now: clients, plus connections still in their handshake, serving <c>GET /</c>, or
    /// being refused. This is what <see cref="LocalWebSocketServerOptions.MaxConnections"/> limits.
    /// </summary>
    public int OpenConnections { get; init; }

    /// <summary>Requests refused with an HTTP error status (malformed, wrong path, too large, too many connections...).</summary>
    public long RequestsRejected { get; init; }

    /// <summary>Connections closed because their request head did not arrive within the handshake timeout.</summary>
    public long HandshakeTimeouts { get; init; }

    /// <summary>WebSocket requests the request authenticator denied (401, 403...).</summary>
    public long AuthenticationFailures { get; init; }

    /// <summary>Clients the client validator refused after the upgrade (closed with 1008).</summary>
    public long ClientsRefused { get; init; }

    /// <summary>Messages the message validator dropped or closed a client for.</summary>
    public long MessagesRejected { get; init; }

    /// <summary>Lifecycle hooks that threw or timed out.</summary>
    public long HookFailures { get; init; }

    /// <summary>Connections refused with 429 because their IP address had too many open.</summary>
    public long PerIpConnectionLimitRejections { get; init; }

    /// <summary>Connections refused with 429 because their IP address opened them too fast.</summary>
    public long HandshakesRateLimited { get; init; }

    /// <summary>Upgrades refused with 403 because their browser <c>Origin</c> is not allowed.</summary>
    public long OriginRejections { get; init; }

    /// <summary>Clients closed for sending nothing within the idle timeout.</summary>
    public long IdleTimeouts { get; init; }

    /// <summary>Connections refused with 503 because the server had <see cref="LocalWebSocketServerOptions.MaxConnections"/> already.</summary>
    public long MaxConnectionsRejections { get; init; }

    /// <summary>TLS handshakes that failed or timed out.</summary>
    public long TlsHandshakeFailures { get; init; }

    /// <summary>Details documents served (<c>GET /</c> and <c>HEAD /</c>).</summary>
    public long DetailsRequests { get; init; }

    /// <summary>Requests the application's routes answered (<see cref="LocalWebSocketServerOptions.Routes"/>), whatever their status.</summary>
    public long RouteRequests { get; init; }

    /// <summary>Messages received from clients.</summary>
    public long MessagesReceived { get; init; }

    /// <summary>Payload bytes received from clients.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Messages written to clients (one per receiving client).</summary>
    public long MessagesSent { get; init; }

    /// <summary>Payload bytes written to clients.</summary>
    public long BytesSent { get; init; }

    /// <summary>Messages dropped because a client's send queue was full.</summary>
    public long MessagesDropped { get; init; }

    /// <summary>Clients closed with 1013 because their send queue was full.</summary>
    public long SlowClientsDisconnected { get; init; }

    /// <summary>Clients closed with 1009 because they sent a message over the size limit.</summary>
    public long OversizedMessages { get; init; }

    /// <summary>Items dropped from the streams of readers that fell behind.</summary>
    public long StreamItemsDropped { get; init; }
}
