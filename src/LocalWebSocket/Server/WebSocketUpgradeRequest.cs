using System.Net;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Server;

/// <summary>
/// A WebSocket upgrade request that a host other than the server's own listener received (ASP.NET Core's
/// <c>MapLocalWebSocket</c>, an in-memory transport, a transport of your own), handed to
/// <see cref="LocalWebSocketServer.AcceptUpgradeAsync"/>. The server checks it with the rules of its own
/// handshake, runs the authenticator, the validator and the hooks, and then tells the host either to accept it
/// (<see cref="AcceptAsync"/>, the 101 response) or to refuse it (<see cref="RejectAsync"/>).
/// </summary>
/// <remarks>The server calls <see cref="AcceptAsync"/> or <see cref="RejectAsync"/> at most once, one of the two.</remarks>
public abstract class WebSocketUpgradeRequest
{
    /// <summary>Describes a request the host received.</summary>
    /// <param name="method">The request method (<c>GET</c> for a valid upgrade).</param>
    /// <param name="isHttp11">Whether the request is HTTP/1.1: WebSocket upgrades need it.</param>
    /// <param name="query">The query of the request target without the <c>?</c> (the client's details), or null.</param>
    /// <param name="headers">The request headers, in arrival order.</param>
    /// <param name="remoteEndPoint">The client's address and port.</param>
    protected WebSocketUpgradeRequest(
        string method, bool isHttp11, string? query, IReadOnlyList<KeyValuePair<string, string>> headers, IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        Method = method;
        IsHttp11 = isHttp11;
        Query = query;
        Headers = headers;
        RemoteEndPoint = remoteEndPoint;
    }

    /// <summary>The request method.</summary>
    public string Method { get; }

    /// <summary>Whether the request is HTTP/1.1.</summary>
    public bool IsHttp11 { get; }

    /// <summary>The query of the request target without the <c>?</c>, or null.</summary>
    public string? Query { get; }

    /// <summary>The request headers, in arrival order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value of the 101 response: the request's key, hashed as RFC 6455 section 4.2.2 says.</summary>
    /// <exception cref="InvalidOperationException">The request has no <c>Sec-WebSocket-Key</c> (the server never accepts such a request).</exception>
    protected string AcceptValue => HeaderList.TryGet(Headers, "Sec-WebSocket-Key", out var key)
        ? WebSocketHandshake.ComputeAccept(key)
        : throw new InvalidOperationException("The request has no Sec-WebSocket-Key.");

    /// <summary>
    /// Sends the 101 response (<c>Upgrade: websocket</c>, <c>Connection: Upgrade</c>, <c>Sec-WebSocket-Accept</c>
    /// set to <see cref="AcceptValue"/>, and the given subprotocol and extensions when not null) and returns the
    /// stream the connection goes on with. The server owns that stream from then on, and disposes it.
    /// </summary>
    /// <param name="subProtocol">The <c>Sec-WebSocket-Protocol</c> value, or null for none.</param>
    /// <param name="extensions">The <c>Sec-WebSocket-Extensions</c> value, or null for none.</param>
    /// <param name="cancellationToken">Ends the wait (the handshake timeout).</param>
    protected internal abstract ValueTask<Stream> AcceptAsync(string? subProtocol, string? extensions, CancellationToken cancellationToken);

    /// <summary>Answers the request with an error response and ends it.</summary>
    /// <param name="statusCode">The status (4xx, 5xx).</param>
    /// <param name="contentType">The body's content type.</param>
    /// <param name="body">The body: a short text, or the JSON error Dart servers send for a failed authentication.</param>
    /// <param name="header">An extra header (<c>Allow</c>, <c>Retry-After</c>, <c>Sec-WebSocket-Version</c>), or null.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    protected internal abstract ValueTask RejectAsync(
        int statusCode, string contentType, string body, KeyValuePair<string, string>? header, CancellationToken cancellationToken);

    /// <summary>Sends a refusal the host's way.</summary>
    internal ValueTask SendRefusalAsync(HandshakeRefusal refusal, CancellationToken cancellationToken) =>
        RejectAsync(refusal.StatusCode, refusal.ContentType, refusal.Body, refusal.Header, cancellationToken);
}
