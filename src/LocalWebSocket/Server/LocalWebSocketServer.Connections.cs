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

    private readonly HandshakeDeadlines _handshakeDeadlines = new();
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
                Logger.LogWarning(exception, "Accepting a connection failed.");
                await Task.Delay(50, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            Counters.CountAccepted();
            _ = HandleConnectionAsync(socket, stopping);
        }
    }

    private async Task HandleConnectionAsync(Socket socket, CancellationToken stopping)
    {
        var overLimit = Interlocked.Increment(ref _connectionCount) > _options.MaxConnections;
        ConnectionStream? stream = ConnectionStream.ForServer(new NetworkStream(socket, ownsSocket: true), socket);
        var address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var (perAddress, slot, retryAfter) = _options.PerIpLimitsApplyToLoopback || !IsLoopback(address)
            ? _addressLimits.Enter(address)
            : (AddressLimiter.Verdict.Allowed, null, TimeSpan.Zero);
        var handedOver = false;
        try
        {
            socket.NoDelay = true;
            if (overLimit)
            {
                Counters.CountOverMaxConnections();
                await RejectAsync(stream, socket, HttpResponses.Busy(503, "Too many connections.", MaxConnectionsRetryAfter), stopping).ConfigureAwait(false);
                return;
            }

            if (perAddress != AddressLimiter.Verdict.Allowed)
            {
                if (perAddress == AddressLimiter.Verdict.TooMany)
                {
                    Counters.CountPerIpLimit();
                }
                else
                {
                    Counters.CountHandshakeRateLimited();
                }

                await RejectAsync(stream, socket, HttpResponses.Busy(429, perAddress == AddressLimiter.Verdict.TooMany
                    ? "Too many connections from your address." : "Too many new connections from your address; slow down.", retryAfter), stopping).ConfigureAwait(false);
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
                return;
            }

            var client = await HandshakeAsync(stream, socket, plainOnly, deadline, stopping).ConfigureAwait(false);
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
            Logger.LogDebug(exception, "A connection ended with an error.");
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            if (!handedOver)
            {
                // The slot first: once OpenConnections has dropped, the address may connect again.
                slot?.Dispose();
                OnConnectionClosed();
            }
        }
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
        ConnectionStream stream, Socket socket, bool plainOnly, HandshakeDeadlines.Deadline deadline, CancellationToken stopping)
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
                await RejectAsync(stream, socket, HttpResponses.PlainError(exception.StatusCode, exception.Message), stopping).ConfigureAwait(false);
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
                ? HttpResponses.PlainError(403, "This server only accepts WebSockets over TLS: use wss://.")
                : CheckRequest(head);
            if (refusal is not null)
            {
                await RejectAsync(stream, socket, refusal, stopping).ConfigureAwait(false);
                return null;
            }

            if (head.Path == ProtocolConstants.WebSocketPath)
            {
                // A validator or an authenticator gets the token and might keep it: then it is not reused.
                var sharesToken = _options.ClientValidator is not null || _options.RequestAuthenticator is not null;
                return await UpgradeAsync(head, stream, socket, sharesToken ? deadline.Share() : deadline.Token).ConfigureAwait(false);
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

    private Task RequestTimedOutAsync(ConnectionStream stream, Socket socket, CancellationToken stopping)
    {
        Counters.CountHandshakeTimeout();
        return RejectAsync(stream, socket, HttpResponses.PlainError(408, "The request did not arrive in time."), stopping);
    }

    /// <summary>
    /// Whether a new connection starts a TLS handshake (a first byte of 0x16, a handshake record), peeked
    /// without consuming it; null when nothing came within the handshake timeout.
    /// </summary>
    private async Task<bool?> SniffTlsAsync(Socket socket, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(_options.HandshakeTimeout);
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
    private async Task<ConnectionStream?> AuthenticateTlsAsync(Socket socket, CancellationToken stopping)
    {
        var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(_options.HandshakeTimeout);
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
            Logger.LogDebug(exception, "A TLS handshake failed.");
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>The error response for a request we do not serve, or null for one we do.</summary>
    private static byte[]? CheckRequest(HttpHead head)
    {
        if (head.MinorVersion == 1 && head.CountHeader("Host") != 1)
        {
            return HttpResponses.PlainError(400, "An HTTP/1.1 request needs exactly one Host header.");
        }

        // No route takes a body, and reading one we would ignore is how requests get smuggled.
        if (head.CountHeader("Transfer-Encoding") > 0
            || (head.TryGetHeader("Content-Length", out var length) && (length != "0" || head.CountHeader("Content-Length") > 1)))
        {
            return HttpResponses.PlainError(400, "Request bodies are not accepted.");
        }

        var path = head.Path;
        if (path == ProtocolConstants.WebSocketPath)
        {
            if (head.Method != "GET")
            {
                return HttpResponses.PlainError(405, "WebSocket upgrades use GET.", "Allow: GET\r\n");
            }

            if (head.MinorVersion != 1 || !head.HeaderContainsToken("Upgrade", "websocket") || !head.HeaderContainsToken("Connection", "Upgrade"))
            {
                return HttpResponses.PlainError(400, "This endpoint takes WebSocket upgrade requests only.");
            }

            if (head.CountHeader("Sec-WebSocket-Version") != 1
                || !head.TryGetHeader("Sec-WebSocket-Version", out var version) || version != ProtocolConstants.WebSocketVersion)
            {
                return HttpResponses.PlainError(426, "Only WebSocket version 13 is supported.", "Sec-WebSocket-Version: 13\r\n");
            }

            if (head.CountHeader("Sec-WebSocket-Key") != 1
                || !head.TryGetHeader("Sec-WebSocket-Key", out var key) || !WebSocketHandshake.IsValidKey(key))
            {
                return HttpResponses.PlainError(400, "Missing or invalid Sec-WebSocket-Key.");
            }

            return null;
        }

        if (path == ProtocolConstants.DetailsPath)
        {
            return head.Method is "GET" or "HEAD"
                ? null
                : HttpResponses.PlainError(405, "The details document answers GET and HEAD.", "Allow: GET, HEAD\r\n");
        }

        return HttpResponses.PlainError(404, "Not found. The details document is at / and WebSockets at /ws.");
    }

    private static bool WantsClose(HttpHead head) =>
        head.HeaderContainsToken("Connection", "close")
        || (head.MinorVersion == 0 && !head.HeaderContainsToken("Connection", "keep-alive"));

    private async ValueTask<ConnectedClient?> UpgradeAsync(HttpHead head, ConnectionStream stream, Socket socket, CancellationToken cancellationToken)
    {
        head.TryGetHeader("Sec-WebSocket-Key", out var key);
        var subProtocol = NegotiateSubProtocol(head);
        var deflate = _options.DangerousDeflateOptions is { } limits
            ? DeflateNegotiation.Negotiate(head.HeaderValues("Sec-WebSocket-Extensions"), limits)
            : null;
        var query = head.Query;
        // Most clients send no details: no dictionary for them.
        var details = string.IsNullOrEmpty(query) ? null : QueryString.Parse(query);
        var remoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        IReadOnlyDictionary<string, string> metadata = EmptyMetadata;

        if (!OriginAllowed(head))
        {
            Counters.CountOriginRejected();
            await RejectAsync(stream, socket, HttpResponses.PlainError(403, "Origin not allowed."), cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (_options.RequestAuthenticator is { } authenticator)
        {
            details ??= new Dictionary<string, string>(StringComparer.Ordinal);
            var (refusal, granted) = await AuthenticateAsync(authenticator, head, details, remoteEndPoint, cancellationToken).ConfigureAwait(false);
            if (refusal is not null)
            {
                await RejectAsync(stream, socket, refusal, cancellationToken).ConfigureAwait(false);
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
            DateTimeOffset.UtcNow,
            subProtocol,
            stream);

        // The client joins before it sees the 101, so that anything relayed once it knows it is connected
        // reaches it; what is sent to it meanwhile waits in its queue until the 101 is out. A refused client
        // is still upgraded, then closed with 1008, as the protocol says.
        var accepted = await ValidateClientAsync(client, cancellationToken).ConfigureAwait(false);
        var joined = accepted && TryJoin(client);
        var response = ArrayPool<byte>.Shared.Rent(HttpResponses.SwitchingProtocolsMaxLength(subProtocol, deflate?.Header));
        try
        {
            var length = HttpResponses.WriteSwitchingProtocols(response, key!, subProtocol, deflate?.Header);
            await stream.WriteAsync(response.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Gone before the 101: the receive loop ends at once and the client leaves the usual way.
            client.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(response);
        }

        // Made only now that the 101 is out: its keep-alive pings must not precede it.
        client.AttachWebSocket(
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

    /// <summary>Browsers send <c>Origin</c>; when an allow-list is set, only listed origins (and non-browsers) pass.</summary>
    private bool OriginAllowed(HttpHead head)
    {
        if (_options.AllowedOrigins.Count == 0 || !head.TryGetHeader("Origin", out var origin))
        {
            return true;
        }

        // A loop, not a lambda: a lambda capturing the origin would cost an object on every upgrade.
        foreach (var allowed in _options.AllowedOrigins)
        {
            if (string.Equals(allowed.TrimEnd('/'), origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

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
            Logger.LogError(exception, "The client validator threw; the client is refused.");
            result = Security.ClientValidationResult.Refuse("Validator error");
        }

        if (!result.Accepted)
        {
            Counters.CountClientRefused();
            Logger.LogInformation("Client from {RemoteEndPoint} refused: {Reason}.", client.RemoteEndPoint, result.Reason);
        }

        return result.Accepted;
    }

    /// <summary>The error response of a denied request (null when it may upgrade), and the metadata of an allowed one.</summary>
    private async Task<(byte[]? Refusal, IReadOnlyDictionary<string, string>? Metadata)> AuthenticateAsync(
        Security.IRequestAuthenticator authenticator,
        HttpHead head,
        Dictionary<string, string> query,
        IPEndPoint remoteEndPoint,
        CancellationToken cancellationToken)
    {
        Security.AuthenticationResult result;
        try
        {
            var request = new Security.HandshakeRequest(head.Path, query.AsReadOnly(), head.Headers, remoteEndPoint);
            result = await authenticator.AuthenticateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Logger.LogError(exception, "The request authenticator threw; the request is denied.");
            result = Security.AuthenticationResult.Deny(500, "Authentication failed");
        }

        if (result.Succeeded)
        {
            return (null, result.Metadata);
        }

        Counters.CountAuthenticationFailure();
        Logger.LogInformation("Request from {RemoteEndPoint} denied: {Status} {Reason}.", remoteEndPoint, result.StatusCode, result.Reason);
        return (HttpResponses.AuthenticationFailed(result.StatusCode, result.Reason ?? "Authentication failed"), null);
    }

    /// <summary>The server's most preferred subprotocol among those the client offers.</summary>
    private string? NegotiateSubProtocol(HttpHead head)
    {
        foreach (var supported in _options.SubProtocols)
        {
            foreach (var offered in head.Headers)
            {
                if (!string.Equals(offered.Key, "Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                foreach (var range in offered.Value.AsSpan().Split(','))
                {
                    if (offered.Value.AsSpan(range).Trim(" \t").SequenceEqual(supported))
                    {
                        return supported;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Sends an error response and closes. The connection lingers briefly, reading and dropping what the
    /// client still sends: closing with unread data makes the OS send a reset that can destroy the response
    /// before the client reads it.
    /// </summary>
    private async Task RejectAsync(ConnectionStream stream, Socket socket, byte[] response, CancellationToken stopping)
    {
        Counters.CountRejected();
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        linger.CancelAfter(LingerTime);
        try
        {
            await stream.WriteAsync(response, linger.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
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
