namespace LocalWebSocket;

/// <summary>
/// The defaults the server, the client and discovery share, in one place: both ends of a connection agree on
/// them unless an app changes one side (then the smaller limit wins, as the protocol says).
/// </summary>
public static class LocalWebSocketDefaults
{
    /// <summary>The port Dart <c>local_websocket</c> servers listen on, which servers use and scanners probe: 8080.</summary>
    public const int Port = 8080;

    /// <summary>The largest message either end accepts: 16 MiB (larger closes with 1009).</summary>
    public const int MaxMessageSize = 16 * 1024 * 1024;

    /// <summary>How many items each reader of an event stream may have waiting before it loses the oldest: 1,024.</summary>
    public const int StreamBufferCapacity = 1024;

    /// <summary>How often a quiet connection is pinged: 30 s.</summary>
    public static TimeSpan KeepAliveInterval => TimeSpan.FromSeconds(30);

    /// <summary>How long a ping may go unanswered before the connection is dropped: 30 s.</summary>
    public static TimeSpan KeepAliveTimeout => TimeSpan.FromSeconds(30);

    /// <summary>How long a close handshake may take before the connection is dropped: 2 s.</summary>
    public static TimeSpan CloseTimeout => TimeSpan.FromSeconds(2);
}
