namespace LocalWebSocket;

/// <summary>
/// The names under which the library reports metrics and traces: enable them with OpenTelemetry
/// (<c>.AddMeter(LocalWebSocketTelemetry.Name)</c>, <c>.AddSource(LocalWebSocketTelemetry.Name)</c>) or watch them
/// with <c>dotnet-counters monitor --counters LocalWebSocket</c>. The README lists every instrument.
/// </summary>
public static class LocalWebSocketTelemetry
{
    /// <summary>The name of the library's <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string Name = "LocalWebSocket";

    /// <summary>The span of a client's connection attempt (TCP, TLS, the upgrade), one per attempt.</summary>
    public const string ClientConnectActivity = "localwebsocket.client.connect";

    /// <summary>The span of a server's WebSocket handshake (authentication, validation, the 101).</summary>
    public const string ServerHandshakeActivity = "localwebsocket.server.handshake";
}
