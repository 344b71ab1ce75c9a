using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

public sealed partial class LocalWebSocketServer
{
    /// <summary>Requests one kept-alive HTTP connection may make before it is closed.</summary>
    private const int MaxRequestsPerConnection = 100;

    /// <summary>How much a refused request may still send us before its connection is closed anyway.</summary>
    private const int MaxLingerBytes = 64 * 1024;

    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(1);

    private HandshakeDeadlines _handshakeDeadlines = null!;
    private int _connectionCount;
    private AddressLimiter _addressLimits = null!;

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        // Leave the caller of StartAsync at once; the loop runs on the thread pool.
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException exception) when (!stopping.IsCancellationRequested)
            {
                // Out of file descriptors or a connection reset before accept: log and keep accepting,
                // after a pause so that a persistent error does not spin.
                Logger.AcceptFailed(exception);
                await Task.Delay(TimeSpan.FromMilliseconds(50), _time, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            Counters.CountAccepted();
            _ = HandleConnectionAsync(socket, stopping);
        }
    }

    private async Task HandleConnectionAsync(Socket socket, CancellationToken stopping)
    {
        var remoteEndPoint = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        var (refusal, slot) = Admit(remoteEndPoint.Address);
        ServerConnectionStream? stream = ConnectionStream.ForServer(new NetworkStream(socket, ownsSocket: true), socket);
        var handedOver = false;
        try
        {
            socket.NoDelay = true;
            if (refusal is not null)
            {
                await RejectAsync(stream, socket, HttpResponses.Error(refusal), stopping).ConfigureAwait(false);
                return;
            }

            var plainOnly = false;
            if (_certificateContext is not null)
            {
                switch (await SniffTlsAsync(socket, stopping).ConfigureAwait(false))
                {
                    case true:
                        // The plain stream only wrapped the socket; the TLS stream takes it over.
                        stream = await AuthenticateTlsAsync(socket, stopping).ConfigureAwait(false);
                        if (stream is null)
                        {
                            return;
                        }

                        break;
                    case false when _options.AllowPlainDetails:
                        plainOnly = true;
                        break;
                    default:
                        return;
                }
            }

            var client = await ServeRequestsAsync(stream, socket, remoteEndPoint, plainOnly, stopping).ConfigureAwait(false);
            if (client is not null)
            {
                // The client's receive loop owns the connection from here, and releases the count and the
                // address slot when it ends: this method's state need not live as long as the connection.
                client.AddressSlot = slot;
                stream = null;
                handedOver = true;
                _ = client.RunAsync();
            }
        }
        catch (Exception exception)
        {
            // One connection's failure never reaches the others or the accept loop.
            Logger.ConnectionFailed(exception);
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            if (!handedOver)
            {
                ReleaseConnection(slot);
            }
        }
    }

    /// <summary>
    /// Counts a new connection against <see cref="LocalWebSocketServerOptions.MaxConnections"/> and the per-IP
    /// limits, whoever hosts it. The count is taken even when the refusal is not null: the caller gives it back
    /// with <see cref="ReleaseConnection"/> (or the client's receive loop does, once the connection upgraded).
    /// </summary>
    private (HandshakeRefusal? Refusal, IDisposable? Slot) Admit(IPAddress address)
    {
        if (Interlocked.Increment(ref _connectionCount) > _options.MaxConnections)
        {
            Counters.CountOverMaxConnections();
            return (HandshakeRefusal.Busy(503, "Too many connections.", MaxConnectionsRetryAfter), null);
        }

        if (!_options.PerIpLimitsApplyToLoopback && IsLoopback(address))
        {
            return (null, null);
        }

        var (verdict, slot, retryAfter) = _addressLimits.Enter(address);
        switch (verdict)
        {
            case AddressLimiter.Verdict.Allowed:
                return (null, slot);
            case AddressLimiter.Verdict.TooMany:
                Counters.CountPerIpLimit();
                return (HandshakeRefusal.Busy(429, "Too many connections from your address.", retryAfter), slot);
            default:
                Counters.CountHandshakeRateLimited();
                return (HandshakeRefusal.Busy(429, "Too many new connections from your address; slow down.", retryAfter), slot);
        }
    }

    /// <summary>Gives back what <see cref="Admit"/> took, for a connection that did not become a client.</summary>
    private void ReleaseConnection(IDisposable? slot)
    {
        // The slot first: once OpenConnections has dropped, the address may connect again.
        slot?.Dispose();
        OnConnectionClosed();
    }

    /// <summary>
    /// Waits for the first request of a new connection and serves its requests until it upgrades (returns the
    /// joined client) or ends (returns null).
    /// </summary>
    // Pooled: every connection of a storm waits here once, and a box per connection would be garbage by the thousand.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ConnectedClient?> ServeRequestsAsync(
        ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint, bool plainOnly, CancellationToken stopping)
    {
        using var deadline = _handshakeDeadlines.Start(_options.HandshakeTimeout, stopping);
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

        return await HandshakeAsync(stream, socket, remoteEndPoint, plainOnly, deadline, stopping).ConfigureAwait(false);
    }

    /// <summary>What a client refused at <see cref="LocalWebSocketServerOptions.MaxConnections"/> is told to wait.</summary>
    private static readonly TimeSpan MaxConnectionsRetryAfter = TimeSpan.FromSeconds(2);

    private static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>A connection counted against <see cref="LocalWebSocketServerOptions.MaxConnections"/> has ended.</summary>
    internal void OnConnectionClosed() => Interlocked.Decrement(ref _connectionCount);

    /// <summary>
    /// Serves HTTP requests on a new connection until it upgrades to a WebSocket (returns the joined
    /// client) or ends (returns null). Each request head must arrive within the handshake timeout.
    /// </summary>
    private async ValueTask<ConnectedClient?> HandshakeAsync(
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

            var refusal = plainOnly && head.Path == ProtocolConstants.WebSocketPath
                ? HandshakeRefusal.Plain(403, "This server only accepts WebSockets over TLS: use wss://.")
                : CheckRequest(head);
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
                return await UpgradeAsync(upgrade, sharesToken ? deadline.Share() : deadline.Token).ConfigureAwait(false);
            }

            var close = WantsClose(head);
            Counters.CountDetailsRequest();
            var response = HttpResponses.Details(DetailsDocument, includeBody: head.Method == "GET", close);
            await stream.WriteAsync(response, deadline.Token).ConfigureAwait(false);
            if (close)
            {
                return null;
            }
        }

        return null;
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
        var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            await tls.AuthenticateAsServerAsync(
                new System.Net.Security.SslServerAuthenticationOptions { ServerCertificateContext = _certificateContext, ClientCertificateRequired = false },
                deadline.Token).ConfigureAwait(false);

            // No socket: the TLS stream may hold decrypted bytes the socket no longer shows.
            return ConnectionStream.ForServer(tls, socket: null);
        }
        catch (Exception exception) when (exception is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
        {
            Counters.CountTlsFailure();
            Logger.TlsFailed(exception);
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>The refusal of a request we do not serve, or null for one we do.</summary>
    private static HandshakeRefusal? CheckRequest(HttpHead head)
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

        if (path == ProtocolConstants.DetailsPath)
        {
            return head.Method is "GET" or "HEAD"
                ? null
                : HandshakeRefusal.Plain(405, "The details document answers GET and HEAD.", "Allow", "GET, HEAD");
        }

        return HandshakeRefusal.Plain(404, "Not found. The details document is at / and WebSockets at /ws.");
    }

    private static bool WantsClose(HttpHead head) =>
        head.HeaderContainsToken("Connection", "close")
        || (head.MinorVersion == 0 && !head.HeaderContainsToken("Connection", "keep-alive"));

    /// <summary>
    /// Upgrades a request that passed <see cref="UpgradeRules.CheckUpgrade"/>, whoever hosts it: checks its
    /// origin, authenticates it, makes and validates its client, has the host send the 101 and attaches the
    /// WebSocket. Returns the client, joined or about to be closed (refused, or the server stopping), whose
    /// receive loop the caller runs; null when the request was refused before any client was made.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ConnectedClient?> UpgradeAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var activity = StartHandshakeActivity(request);
        try
        {
            return await UpgradeCoreAsync(request, activity, startedAt, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // A timeout or a dropped connection during authentication or validation: measured like a refusal.
            EndHandshake(activity, startedAt, client: null, Telemetry.ErrorType(exception));
            throw;
        }
    }

    private async ValueTask<ConnectedClient?> UpgradeCoreAsync(
        WebSocketUpgradeRequest request, System.Diagnostics.Activity? activity, long startedAt, CancellationToken cancellationToken)
    {
        var headers = request.Headers;
        var subProtocol = UpgradeRules.NegotiateSubProtocol(headers, _options.SubProtocols);
        var deflate = _options.DangerousDeflateOptions is { } limits
            ? DeflateNegotiation.Negotiate(HeaderList.Values(headers, "Sec-WebSocket-Extensions"), limits)
            : null;
        var query = request.Query;
        // Most clients send no details: no dictionary for them.
        var details = string.IsNullOrEmpty(query) ? null : QueryString.Parse(query);
        var remoteEndPoint = request.RemoteEndPoint;
        IReadOnlyDictionary<string, string> metadata = EmptyMetadata;

        if (!UpgradeRules.OriginAllowed(headers, _options.AllowedOrigins))
        {
            Counters.CountOriginRejected();
            await request.SendRefusalAsync(HandshakeRefusal.Plain(403, "Origin not allowed."), cancellationToken).ConfigureAwait(false);
            EndHandshake(activity, startedAt, client: null, "origin");
            return null;
        }

        if (_options.RequestAuthenticator is { } authenticator)
        {
            details ??= new Dictionary<string, string>(StringComparer.Ordinal);
            var (refusal, granted) = await AuthenticateAsync(authenticator, headers, details, remoteEndPoint, cancellationToken).ConfigureAwait(false);
            if (refusal is not null)
            {
                await request.SendRefusalAsync(refusal, cancellationToken).ConfigureAwait(false);
                EndHandshake(activity, startedAt, client: null, "authentication");
                return null;
            }

            metadata = granted ?? EmptyMetadata;
            foreach (var parameter in authenticator.CredentialParameters)
            {
                details.Remove(parameter);
            }
        }

        var client = new ConnectedClient(
            this,
            _options,
            Guid.CreateVersion7().ToString("N"),
            // Clients without details (many) share one empty dictionary: one less per idle connection.
            details is not { Count: > 0 } ? EmptyMetadata : details.AsReadOnly(),
            metadata,
            remoteEndPoint,
            _time.GetUtcNow(),
            subProtocol);

        // The client joins before it sees the 101, so that anything relayed once it knows it is connected
        // reaches it; what is sent to it meanwhile waits in its queue until the 101 is out. A refused client
        // is still upgraded, then closed with 1008, as the protocol says.
        var accepted = await ValidateClientAsync(client, cancellationToken).ConfigureAwait(false);
        var joined = accepted && TryJoin(client);
        Stream transport;
        string? failure = !accepted ? "validation" : !joined ? "server_stopping" : null;
        try
        {
            transport = await request.AcceptAsync(subProtocol, deflate?.Header, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            failure = Telemetry.ErrorType(exception);
            // Gone before the 101 (or a host that failed to send it): the receive loop ends at once, on a
            // connection already aborted, and the client leaves the usual way.
            Logger.SwitchingProtocolsFailed(exception, remoteEndPoint);
            client.Abort();
            transport = Stream.Null;
        }

        // Made only now that the 101 is out: its keep-alive pings must not precede it.
        var stream = transport as ServerConnectionStream ?? ConnectionStream.ForServer(transport, socket: null);
        client.AttachWebSocket(
            stream,
            WebSocket.CreateFromStream(stream, subProtocol is null && deflate is null ? _webSocketOptions : WebSocketOptions(subProtocol, deflate?.Options)),
            DeflateAgreement.SendFlags(deflate));

        if (!accepted)
        {
            client.RequestClose(WebSocketCloseStatus.PolicyViolation, ProtocolConstants.ClientValidationFailedReason, discardQueued: true);
        }
        else if (!joined)
        {
            // The server began stopping during the handshake.
            client.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "Server stopping", discardQueued: true);
        }

        client.ReleaseSending();
        EndHandshake(activity, startedAt, client, failure);
        return client;
    }

    /// <summary>How every server-side WebSocket of ours is made; shared when there is neither subprotocol nor compression (a read-only use).</summary>
    private WebSocketCreationOptions WebSocketOptions(string? subProtocol, WebSocketDeflateOptions? deflate = null)
    {
        var keepAlive = _options.KeepAliveInterval > TimeSpan.Zero;
        return new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subProtocol,
            DangerousDeflateOptions = deflate,
            KeepAliveInterval = keepAlive ? _options.KeepAliveInterval : TimeSpan.Zero,
            KeepAliveTimeout = keepAlive ? _options.KeepAliveTimeout : Timeout.InfiniteTimeSpan,
        };
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>(StringComparer.Ordinal).AsReadOnly();

    /// <summary>Runs the client validator; a refusal or an exception keeps the client out.</summary>
    private async Task<bool> ValidateClientAsync(ConnectedClient client, CancellationToken cancellationToken)
    {
        if (_options.ClientValidator is not { } validator)
        {
            return true;
        }

        Security.ClientValidationResult result;
        try
        {
            var context = new Security.ClientValidationContext(client.Details, client.RemoteEndPoint, client.AuthenticationMetadata, Clients.Count);
            result = await validator.ValidateAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Logger.ValidatorThrew(exception);
            result = Security.ClientValidationResult.Refuse("Validator error");
        }

        if (!result.Accepted)
        {
            Counters.CountClientRefused();
            Logger.ClientRefused(client.RemoteEndPoint, result.Reason);
        }

        return result.Accepted;
    }

    /// <summary>The error response of a denied request (null when it may upgrade), and the metadata of an allowed one.</summary>
    private async Task<(HandshakeRefusal? Refusal, IReadOnlyDictionary<string, string>? Metadata)> AuthenticateAsync(
        Security.IRequestAuthenticator authenticator,
        IReadOnlyList<KeyValuePair<string, string>> headers,
        Dictionary<string, string> query,
        IPEndPoint remoteEndPoint,
        CancellationToken cancellationToken)
    {
        Security.AuthenticationResult result;
        try
        {
            var request = new Security.HandshakeRequest(ProtocolConstants.WebSocketPath, query.AsReadOnly(), headers, remoteEndPoint);
            result = await authenticator.AuthenticateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Logger.AuthenticatorThrew(exception);
            result = Security.AuthenticationResult.Deny(500, "Authentication failed");
        }

        if (result.Succeeded)
        {
            return (null, result.Metadata);
        }

        Counters.CountAuthenticationFailure();
        Logger.RequestDenied(remoteEndPoint, result.StatusCode, result.Reason);
        return (HandshakeRefusal.AuthenticationFailed(result.StatusCode, result.Reason ?? "Authentication failed"), null);
    }

    /// <summary>
    /// Sends an error response and closes. The connection lingers briefly, reading and dropping what the
    /// client still sends: closing with unread data makes the OS send a reset that can destroy the response
    /// before the client reads it.
    /// </summary>
    internal async Task RejectAsync(ConnectionStream stream, Socket? socket, byte[] response, CancellationToken stopping)
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
