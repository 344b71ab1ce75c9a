using System.Net;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

// One hub, many hosts. The server's own listener is one host; these members let others feed it connections:
// ASP.NET Core (LocalWebSocket.AspNetCore maps /ws to AcceptUpgradeAsync), or any transport that gives a
// duplex stream (AcceptConnectionAsync: an in-memory pipe in tests, a serial or Bluetooth link). Whoever
// hosts it, a connection goes through the same limits, rules, authentication, validation, hooks and routing.
public sealed partial class LocalWebSocketServer
{
    /// <summary>
    /// Starts the server without a listener of its own: connections come from a host, through
    /// <see cref="AcceptUpgradeAsync"/> or <see cref="AcceptConnectionAsync"/>. Everything else runs as with
    /// <see cref="StartAsync"/>: routing, hooks, events, the idle timeout, and mDNS advertising of
    /// <paramref name="localEndPoint"/> when the options ask for it.
    /// </summary>
    /// <param name="localEndPoint">
    /// Where the host accepts connections (for <see cref="LocalEndPoint"/>, <see cref="WebSocketUrl"/> and
    /// advertising), or null when it has none to tell.
    /// </param>
    /// <param name="cancellationToken">Cancels the start (while advertising probes for its name).</param>
    /// <exception cref="InvalidOperationException">
    /// The server is already running, or its options name a TLS certificate (a host does its own TLS).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public async Task StartHostedAsync(IPEndPoint? localEndPoint = null, CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotStart();
            if (_certificateContext is not null)
            {
                throw new InvalidOperationException(
                    "A hosted server does not do TLS itself: configure the host's certificate (Kestrel's) and leave Certificate unset.");
            }

            await StartCoreAsync(localEndPoint, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        _runningChanges.Publish(true);
        Raise(Started, EventArgs.Empty);
    }

    /// <summary>
    /// The details document as <c>GET /</c> answers it (UTF-8 JSON, with the TLS fingerprint of a secure server),
    /// for a host that answers that request itself; counted as a details request in <see cref="GetStatistics"/>.
    /// A host sends it with <c>Server: local-websocket/1.0.0</c> (<see cref="ProtocolConstants.ServerHeaderValue"/>),
    /// exactly once: scanners look for it.
    /// </summary>
    public ReadOnlyMemory<byte> ServeDetailsDocument()
    {
        Counters.CountDetailsRequest();
        return DetailsDocument;
    }

    /// <summary>
    /// Answers a request to one of the application's routes (<see cref="LocalWebSocketServerOptions.Routes"/>),
    /// for a host that serves them itself (ASP.NET Core's <c>MapLocalWebSocket</c>): the route's response, or a
    /// <c>500</c> (logged) when it threw or returned null; null when no route has the request's path. Counted in
    /// <see cref="ServerStatistics.RouteRequests"/>. The host sends the response with
    /// <c>Server: local-websocket/1.0.0</c>, and its head only for <c>HEAD</c>.
    /// </summary>
    /// <param name="request">The request (the host answers other methods than GET and HEAD with 405).</param>
    /// <param name="cancellationToken">The host's end of the request; the route gets it.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled while the route ran.</exception>
    public async ValueTask<HttpRouteResponse?> AnswerRouteAsync(HttpRouteRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_routes.Find(request.Path) is not { } route)
        {
            return null;
        }

        HttpRouteResponse? response;
        try
        {
            response = await route(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Logger.RouteFailed(exception, request.Path);
            response = null;
        }

        Counters.CountRouteRequest();
        return response ?? RouteFailedResponse;
    }

    /// <summary>
    /// The paths the server answers besides <c>/</c> and <c>/ws</c>: its options' <see cref="LocalWebSocketServerOptions.Routes"/>
    /// and its web client's (<see cref="LocalWebSocketServerOptions.WebClientPath"/>), a prefix ending in <c>/*</c>.
    /// A host with its own HTTP maps these to <see cref="AnswerRouteAsync"/>.
    /// </summary>
    public IEnumerable<string> RoutePaths => _routes.Paths;

    internal HttpRouteHandler? FindRoute(string path) => _routes.Find(path);

    /// <summary>The routes this server answers; made once, in the constructor, and never changed.</summary>
    private readonly HttpRouteTable _routes;

    private static readonly HttpRouteResponse RouteFailedResponse = HttpRouteResponse.Text("The route failed.", statusCode: 500);

    /// <summary>
    /// Takes a WebSocket upgrade request a host received, and runs it: the same limits, handshake rules,
    /// authentication, validation and hooks as on the server's own listener, then the client's connection.
    /// Completes when the request was refused or the client has left; a host keeps the request open until then.
    /// </summary>
    /// <param name="request">The request, with the host's way to send the 101 or a refusal.</param>
    /// <param name="cancellationToken">The host's end of the request (the connection dropped): drops the client.</param>
    /// <remarks>A server that is not running refuses the request with 503.</remarks>
    public async Task AcceptUpgradeAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var stopping = _stoppingToken;
        if (!IsRunning || stopping.IsCancellationRequested)
        {
            await request.SendRefusalAsync(HandshakeRefusal.Busy(503, "The server is not running.", MaxConnectionsRetryAfter), cancellationToken).ConfigureAwait(false);
            return;
        }

        Counters.CountAccepted();
        var (refusal, slot) = Admit(request.RemoteEndPoint.Address);
        ConnectedClient? client = null;
        try
        {
            refusal ??= UpgradeRules.CheckUpgrade(request.Method, request.IsHttp11, request.Headers);
            if (refusal is not null)
            {
                Counters.CountRejected();
                await request.SendRefusalAsync(refusal, cancellationToken).ConfigureAwait(false);
                return;
            }

            using (var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time))
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping, cancellationToken, timeout.Token))
            {
                client = await UpgradeAsync(request, deadline.Token).ConfigureAwait(false);
            }

            if (client is null)
            {
                Counters.CountRejected();
                return;
            }

            client.AddressSlot = slot;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            Counters.CountHandshakeTimeout();
            Logger.UpgradeTimedOut(request.RemoteEndPoint);
            return;
        }
        finally
        {
            if (client is null)
            {
                ReleaseConnection(slot);
            }
        }

        // The receive loop releases the count and the slot when it ends.
        using var dropped = cancellationToken.Register(static state => ((ConnectedClient)state!).Abort(), client);
        await client.RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Serves one connection a transport of yours made (an in-memory pipe, a serial or Bluetooth link: any
    /// duplex stream) as the server's own listener serves a TCP connection: its HTTP requests (<c>GET /</c>,
    /// the upgrade at <c>/ws</c>) with the same limits and timeouts, then the client's WebSocket.
    /// Completes when the connection has ended; the server disposes <paramref name="transport"/>.
    /// </summary>
    /// <param name="transport">The connection, read and written as a byte stream.</param>
    /// <param name="remoteEndPoint">Who is at the other end, for the per-IP limits and <see cref="ConnectedClient.RemoteEndPoint"/>.</param>
    /// <param name="cancellationToken">Drops the connection.</param>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public async Task AcceptConnectionAsync(Stream transport, IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        var stopping = _stoppingToken;
        if (!IsRunning || stopping.IsCancellationRequested)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("The server is not running.");
        }

        Counters.CountAccepted();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, cancellationToken);
        var client = await OpenConnectionAsync(ConnectionStream.ForServer(transport, socket: null), socket: null, remoteEndPoint, linked.Token)
            .ConfigureAwait(false);
        if (client is not null)
        {
            // The receive loop releases the count and the slot when it ends.
            using var dropped = cancellationToken.Register(static state => ((ConnectedClient)state!).Abort(), client);
            await client.RunAsync().ConfigureAwait(false);
        }
    }
}
