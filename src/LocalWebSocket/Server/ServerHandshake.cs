using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Server;

/// <summary>
/// The server side of the opening handshake on a connection of our own, the counterpart of
/// <c>ClientHandshake</c>: TLS when the server has a certificate, then the HTTP/1.1 requests of the connection
/// (<c>GET /</c> answered here, the upgrade at <c>/ws</c> handed to the hub) until it upgrades or ends, each
/// bounded in size, in count and in time; and the refusals, sent so that the client can read them.
/// </summary>
/// <remarks>
/// One per server, shared by all its connections: it holds only what does not change while the server lives
/// (its options, clock and certificate), and keeps each connection's state on that connection's stack. A
/// host with its own HTTP (ASP.NET Core) skips it and hands the hub a <see cref="WebSocketUpgradeRequest"/>.
/// </remarks>
internal sealed class ServerHandshake
{
    /// <summary>Requests one kept-alive HTTP connection may make before it is closed.</summary>
    private const int MaxRequestsPerConnection = 100;

    /// <summary>How much a refused request may still send us before its connection is closed anyway.</summary>
    private const int MaxLingerBytes = 64 * 1024;

    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(1);

    private readonly LocalWebSocketServer _server;
    private readonly LocalWebSocketServerOptions _options;
    private readonly TimeProvider _time;
    private readonly SslStreamCertificateContext? _certificate;
    private readonly HandshakeDeadlines _deadlines;

    /// <param name="server">The hub the upgrades go to, and whose counters and log the handshakes use.</param>
    /// <param name="options">The server's own copy of its options, which does not change.</param>
    /// <param name="certificate">The server's TLS certificate, or null for a plain server.</param>
    public ServerHandshake(LocalWebSocketServer server, LocalWebSocketServerOptions options, SslStreamCertificateContext? certificate)
    {
        _server = server;
        _options = options;
        _time = options.TimeProvider;
        _certificate = certificate;
        _deadlines = new HandshakeDeadlines(_time);
    }

    private ServerCounters Counters => _server.Counters;

    /// <summary>
    /// The stream a new socket's requests are read from: TLS when the server has a certificate and the client
    /// starts a TLS handshake, else <paramref name="plain"/>. <c>PlainOnly</c> when a TLS server answers a plain
    /// client's <c>GET /</c> but no WebSocket; a null stream when the connection is to be dropped (no TLS where
    /// it is required, a failed TLS handshake, nothing sent in time).
    /// </summary>
    /// <remarks>
    /// A TLS stream owns the socket, and <paramref name="plain"/>, which only wrapped it, is then dropped
    /// unused; otherwise the caller still owns <paramref name="plain"/> and disposes it (twice closing a
    /// socket is harmless, if TLS failed and closed it already).
    /// </remarks>
    public async Task<(ServerConnectionStream? Stream, bool PlainOnly)> SecureAsync(
        Socket socket, ServerConnectionStream plain, CancellationToken stopping)
    {
        if (_certificate is null)
        {
            return (plain, false);
        }

        switch (await SniffTlsAsync(socket, stopping).ConfigureAwait(false))
        {
            case true:
                // The plain stream only wrapped the socket; the TLS stream takes it over (or closed it, failing).
                return (await AuthenticateTlsAsync(socket, stopping).ConfigureAwait(false), false);
            case false when _options.AllowPlainDetails:
                return (plain, true);
            default:
                return (null, false);
        }
    }

    /// <summary>
    /// Waits for the first request of a new connection and serves its requests until it upgrades (returns the
    /// client the hub made, which the caller runs) or ends (returns null).
    /// </summary>
    // Pooled: every connection of a storm waits here once, and a box per connection would be garbage by the thousand.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ConnectedClient?> ServeAsync(
        ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint, bool plainOnly, CancellationToken stopping)
    {
        using var deadline = _deadlines.Start(_options.HandshakeTimeout, stopping);
        try
        {
            // Wait for the first request here, in the one state machine a connection has while it waits
            // (hundreds wait at once in a storm): nothing is rented, and the handshake then runs at once.
            await stream.ReadAsync(Memory<byte>.Empty, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            await RequestTimedOutAsync(stream, socket, stopping).ConfigureAwait(false);
            return null;
        }

        return await ServeRequestsAsync(stream, socket, remoteEndPoint, plainOnly, deadline, stopping).ConfigureAwait(false);
    }

    /// <summary>The requests of a connection whose first request has begun to arrive; each head within the handshake timeout.</summary>
    private async ValueTask<ConnectedClient?> ServeRequestsAsync(
        ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint, bool plainOnly, HandshakeDeadlines.Deadline deadline, CancellationToken stopping)
    {
        for (var request = 0; request < MaxRequestsPerConnection; request++)
        {
            HttpHead? head;
            try
            {
                if (request > 0)
                {
                    // The first request was awaited by the caller. Wait before reading, so nothing is rented
                    // while a kept-alive connection idles.
                    deadline.Restart(_options.HandshakeTimeout);
                    await stream.ReadAsync(Memory<byte>.Empty, deadline.Token).ConfigureAwait(false);
                }

                head = await HttpHeadReader.ReadAsync(stream, isRequest: true, _options.MaxRequestHeadSize, _options.MaxRequestHeaders, deadline.Token)
                    .ConfigureAwait(false);
            }
            catch (HttpParseException exception)
            {
                await RejectAsync(stream, socket, HttpResponses.Error(HandshakeRefusal.Plain(exception.StatusCode, exception.Message)), stopping).ConfigureAwait(false);
                return null;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                await RequestTimedOutAsync(stream, socket, stopping).ConfigureAwait(false);
                return null;
            }

            if (head is null)
            {
                return null;
            }

            var isRoute = head.Path is not (ProtocolConstants.WebSocketPath or ProtocolConstants.DetailsPath) && _server.FindRoute(head.Path) is not null;
            // A TLS server answers a plain client's GET / (AllowPlainDetails, for scanners) and nothing else.
            var refusal = plainOnly && head.Path == ProtocolConstants.WebSocketPath
                ? HandshakeRefusal.Plain(403, "This server only accepts WebSockets over TLS: use wss://.")
                : plainOnly && isRoute
                    ? HandshakeRefusal.Plain(403, "This server only serves its routes over TLS: use https://.")
                    : CheckRequest(head, isRoute);
            if (refusal is not null)
            {
                await RejectAsync(stream, socket, HttpResponses.Error(refusal), stopping).ConfigureAwait(false);
                return null;
            }

            if (head.Path == ProtocolConstants.WebSocketPath)
            {
                // A validator or an authenticator gets the token and might keep it: then it is not reused.
                var sharesToken = _options.ClientValidator is not null || _options.RequestAuthenticator is not null;
                var upgrade = new ListenerUpgrade(this, head, stream, socket, remoteEndPoint);
                return await _server.UpgradeAsync(upgrade, sharesToken ? deadline.Share() : deadline.Token).ConfigureAwait(false);
            }

            var close = WantsClose(head);
            if (isRoute)
            {
                if (!await ServeRouteAsync(head, stream, socket, remoteEndPoint, close, deadline, stopping).ConfigureAwait(false))
                {
                    return null;
                }
            }
            else
            {
                Counters.CountDetailsRequest();
                var response = HttpResponses.Details(_server.DetailsDocument, includeBody: head.Method == "GET", close);
                await stream.WriteAsync(response, deadline.Token).ConfigureAwait(false);
            }

            if (close)
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>
    /// Answers a request to one of the application's routes within the request's deadline; false when the
    /// route took too long, and the connection was answered with 503 and closed.
    /// </summary>
    private async ValueTask<bool> ServeRouteAsync(
        HttpHead head, ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint, bool close, HandshakeDeadlines.Deadline deadline, CancellationToken stopping)
    {
        HttpRouteResponse? response;
        try
        {
            // The route may keep the token: then the deadline is not reused.
            var request = new HttpRouteRequest(head.Method, head.Path, head.Query, head.Headers, remoteEndPoint);
            response = await _server.AnswerRouteAsync(request, deadline.Share()).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            Counters.CountHandshakeTimeout();
            await RejectAsync(stream, socket, HttpResponses.Error(HandshakeRefusal.Plain(503, "The route did not answer in time.")), stopping).ConfigureAwait(false);
            return false;
        }

        Debug.Assert(response is not null, "The route was found when the request was checked, and the routes do not change.");
        await stream.WriteAsync(response.Encode(includeBody: head.Method == "GET", close), deadline.Token).ConfigureAwait(false);
        return true;
    }

    private Task RequestTimedOutAsync(ConnectionStream stream, Socket? socket, CancellationToken stopping)
    {
        Counters.CountHandshakeTimeout();
        return RejectAsync(stream, socket, HttpResponses.Error(HandshakeRefusal.Plain(408, "The request did not arrive in time.")), stopping);
    }

    /// <summary>
    /// Whether a new connection starts a TLS handshake (a first byte of 0x16, a handshake record), peeked
    /// without consuming it; null when nothing came within the handshake timeout.
    /// </summary>
    private async Task<bool?> SniffTlsAsync(Socket socket, CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        var first = new byte[1];
        try
        {
            var read = await socket.ReceiveAsync(first, SocketFlags.Peek, deadline.Token).ConfigureAwait(false);
            return read == 0 ? null : first[0] == 0x16;
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            Counters.CountHandshakeTimeout();
            return null;
        }
    }

    /// <summary>The TLS handshake, within the handshake timeout; null when it failed.</summary>
    private async Task<ServerConnectionStream?> AuthenticateTlsAsync(Socket socket, CancellationToken stopping)
    {
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            await tls.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions { ServerCertificateContext = _certificate, ClientCertificateRequired = false },
                deadline.Token).ConfigureAwait(false);

            // No socket: the TLS stream may hold decrypted bytes the socket no longer shows.
            return ConnectionStream.ForServer(tls, socket: null);
        }
        catch (Exception exception) when (exception is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
        {
            Counters.CountTlsFailure();
            _server.Logger.TlsFailed(exception);
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>The refusal of a request we do not serve, or null for one we do (<paramref name="isRoute"/>: one of the application's routes).</summary>
    private static HandshakeRefusal? CheckRequest(HttpHead head, bool isRoute)
    {
        if (head.MinorVersion == 1 && head.CountHeader("Host") != 1)
        {
            return HandshakeRefusal.Plain(400, "An HTTP/1.1 request needs exactly one Host header.");
        }

        var path = head.Path;
        if (path == ProtocolConstants.WebSocketPath)
        {
            return UpgradeRules.CheckUpgrade(head.Method, head.MinorVersion == 1, head.Headers);
        }

        if (UpgradeRules.CheckNoBody(head.Headers) is { } body)
        {
            return body;
        }

        if (path == ProtocolConstants.DetailsPath || isRoute)
        {
            return head.Method is "GET" or "HEAD"
                ? null
                : HandshakeRefusal.Plain(405, isRoute ? "This route answers GET and HEAD." : "The details document answers GET and HEAD.", "Allow", "GET, HEAD");
        }

        return HandshakeRefusal.Plain(404, "Not found. The details document is at / and WebSockets at /ws.");
    }

    private static bool WantsClose(HttpHead head) =>
        head.HeaderContainsToken("Connection", "close")
        || (head.MinorVersion == 0 && !head.HeaderContainsToken("Connection", "keep-alive"));

    /// <summary>
    /// Sends an error response and closes. The connection lingers briefly, reading and dropping what the
    /// client still sends: closing with unread data makes the OS send a reset that can destroy the response
    /// before the client reads it.
    /// </summary>
    public async Task RejectAsync(ConnectionStream stream, Socket? socket, byte[] response, CancellationToken stopping)
    {
        Counters.CountRejected();
        using var lingerTime = new CancellationTokenSource(LingerTime, _time);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(stopping, lingerTime.Token);
        try
        {
            await stream.WriteAsync(response, linger.Token).ConfigureAwait(false);
            // Without a socket (TLS, a host's stream) there is no half-close: the client sees the response's
            // Connection: close and the linger below ends when it hangs up.
            socket?.Shutdown(SocketShutdown.Send);
            var scratch = new byte[4096];
            var total = 0;
            while (total < MaxLingerBytes)
            {
                var read = await stream.ReadAsync(scratch, linger.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away or kept talking: either way the connection is closed now.
        }
    }
}
