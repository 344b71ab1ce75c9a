namespace LocalWebSocket;

/// <summary>What went wrong, for <see cref="LocalWebSocketException"/>.</summary>
public enum LocalWebSocketErrorCode
{
    /// <summary>The server could not be reached, or the connection broke (network, DNS, reset).</summary>
    ConnectionFailed,

    /// <summary>The connection attempt did not complete within the connect timeout.</summary>
    ConnectTimeout,

    /// <summary>The server refused the request's credentials (HTTP 401 or 403 before the upgrade).</summary>
    AuthenticationFailed,

    /// <summary>The server refused the client after the upgrade (close 1008, or 3000 from Dart servers).</summary>
    ValidationFailed,

    /// <summary>The server answered the upgrade with another HTTP status, or an invalid 101 response.</summary>
    HandshakeFailed,

    /// <summary>The operation needs an open connection and there is none.</summary>
    NotConnected,

    /// <summary>A message was larger than the configured maximum (close 1009).</summary>
    MessageTooLarge,

    /// <summary>The peer broke the WebSocket protocol (close 1002 or 1007).</summary>
    ProtocolError,

    /// <summary>The outbox of messages waiting for a connection is full.</summary>
    OutboxFull,

    /// <summary>The reconnect policy gave up; the inner exception is the last attempt's error.</summary>
    ReconnectGaveUp,

    /// <summary>The <c>AfterConnect</c> hook threw; the connection was closed.</summary>
    AfterConnectFailed,

    /// <summary>The server's TLS certificate was refused: untrusted, or not the pinned fingerprint. Not retried.</summary>
    CertificateRejected,

    /// <summary>
    /// The server is at a limit that will pass (HTTP 429 Too Many Requests or 503 Service Unavailable): the
    /// client retries, and never sooner than <see cref="LocalWebSocketException.RetryAfter"/>.
    /// </summary>
    ServerBusy,

    /// <summary>
    /// The server advertises over mDNS, but some of its details do not fit the TXT record (an entry is at most
    /// 255 bytes, the record 1,300; values must be strings, numbers or booleans) and were left out of it. Browsers
    /// see the rest; <c>GET /</c> still answers them all.
    /// </summary>
    DetailsNotAdvertised,

    /// <summary>
    /// mDNS advertising stopped because no free service name was found: other hosts on the link answered for
    /// the server's name and each renamed one after it (<c>Name (2)</c>, <c>Name (3)</c>...). Scanning still finds it.
    /// </summary>
    NameConflict,
}
