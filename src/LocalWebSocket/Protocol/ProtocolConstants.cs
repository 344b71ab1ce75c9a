namespace LocalWebSocket.Protocol;

/// <summary>Values fixed by the wire protocol shared with the Dart <c>local_websocket</c> package.</summary>
public static class ProtocolConstants
{
    /// <summary>
    /// The <c>Server</c> header value of the details document. Dart scanners match the substring
    /// <c>local-websocket</c> and fail when the header appears twice, so it is sent exactly once.
    /// </summary>
    public const string ServerHeaderValue = "local-websocket/1.0.0";

    /// <summary>The substring a scanner looks for in the <c>Server</c> header.</summary>
    public const string ServerHeaderToken = "local-websocket";

    /// <summary>The path at which WebSocket upgrades are accepted.</summary>
    public const string WebSocketPath = "/ws";

    /// <summary>The path that answers the details document.</summary>
    public const string DetailsPath = "/";

    /// <summary>The only WebSocket protocol version (RFC 6455).</summary>
    public const string WebSocketVersion = "13";

    /// <summary>
    /// The close code Dart <c>local_websocket</c> 0.0.4 servers send when client validation fails; our
    /// client treats it like <see cref="System.Net.WebSockets.WebSocketCloseStatus.PolicyViolation"/>.
    /// </summary>
    public const int DartValidationFailedCloseCode = 3000;

    /// <summary>The close reason sent when client validation refuses a client.</summary>
    public const string ClientValidationFailedReason = "Client validation failed";
}
