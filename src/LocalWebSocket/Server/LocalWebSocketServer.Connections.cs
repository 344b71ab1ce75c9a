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
    /// <summary>The handshake of the connections of our own (the listener's, and those of AcceptConnectionAsync).</summary>
    private readonly ServerHandshake _handshake;
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
        var client = await OpenConnectionAsync(ConnectionStream.ForServer(new NetworkStream(socket, ownsSocket: true), socket), socket, remoteEndPoint, stopping)
            .ConfigureAwait(false);

        // The client's receive loop owns the connection from here, and releases the count and the address
        // slot when it ends: the accept loop's state need not live as long as the connection.
        _ = client?.RunAsync();
    }

    /// <summary>
    /// Takes a new connection of our own through admission, TLS and the HTTP handshake. Returns the client it
    /// became, whose receive loop the caller runs (it then owns the stream, the connection count and the address
    /// slot); or null, once the connection was refused or ended, and all it held was given back.
    /// </summary>
    /// <param name="stream">The connection; disposed here unless it became a client.</param>
    /// <param name="socket">Its socket, for TLS, half-close and peeking; null for a stream a transport gave.</param>
    /// <param name="remoteEndPoint">The peer, for the per-IP limits.</param>
    /// <param name="stopping">The server's stop, or the transport's end of the connection.</param>
    private async Task<ConnectedClient?> OpenConnectionAsync(
        ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint, CancellationToken stopping)
    {
        var (refusal, slot) = Admit(remoteEndPoint.Address);
        ServerConnectionStream? owned = stream;
        ConnectedClient? client = null;
        try
        {
            if (refusal is not null)
            {
                await _handshake.RejectAsync(stream, socket, HttpResponses.Error(refusal), stopping).ConfigureAwait(false);
                return null;
            }

            var plainOnly = false;
            if (socket is not null)
            {
                socket.NoDelay = true;
                (var secured, plainOnly) = await _handshake.SecureAsync(socket, stream, stopping).ConfigureAwait(false);
                if (secured is null)
                {
                    return null;
                }

                if (secured != stream)
                {
                    // TLS owns the socket now; the plain stream only wrapped it.
                    owned = secured;
                }
            }

            client = await _handshake.ServeAsync(owned, socket, remoteEndPoint, plainOnly, stopping).ConfigureAwait(false);
            if (client is not null)
            {
                client.AddressSlot = slot;
                owned = null;
            }

            return client;
        }
        catch (Exception exception)
        {
            // One connection's failure never reaches the others, the accept loop or the transport's caller.
            Logger.ConnectionFailed(exception);
            return null;
        }
        finally
        {
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }

            if (client is null)
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

    /// <summary>What a client refused at <see cref="LocalWebSocketServerOptions.MaxConnections"/> is told to wait.</summary>
    private static readonly TimeSpan MaxConnectionsRetryAfter = TimeSpan.FromSeconds(2);

    private static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>A connection counted against <see cref="LocalWebSocketServerOptions.MaxConnections"/> has ended.</summary>
    internal void OnConnectionClosed() => Interlocked.Decrement(ref _connectionCount);

    /// <summary>
    /// Upgrades a request that passed <see cref="UpgradeRules.CheckUpgrade"/>, whoever hosts it: checks its
    /// origin, authenticates it, makes and validates its client, has the host send the 101 and attaches the
    /// WebSocket. Returns the client, joined or about to be closed (refused, or the server stopping), whose
    /// receive loop the caller runs; null when the request was refused before any client was made.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<ConnectedClient?> UpgradeAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken)
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
            var (refusal, granted) = await AuthenticateAsync(
                authenticator, ProtocolConstants.WebSocketPath, details.AsReadOnly(), headers, remoteEndPoint, cancellationToken).ConfigureAwait(false);
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
    /// <summary>
    /// Asks the authenticator about a request: an upgrade at <c>/ws</c>, or a route that shows what only those
    /// allowed to connect may see (the web client's list of clients). A denial is counted and logged, and
    /// comes back as the refusal to send.
    /// </summary>
    internal async Task<(HandshakeRefusal? Refusal, IReadOnlyDictionary<string, string>? Metadata)> AuthenticateAsync(
        Security.IRequestAuthenticator authenticator,
        string path,
        IReadOnlyDictionary<string, string> query,
        IReadOnlyList<KeyValuePair<string, string>> headers,
        IPEndPoint remoteEndPoint,
        CancellationToken cancellationToken)
    {
        Security.AuthenticationResult result;
        try
        {
            var request = new Security.HandshakeRequest(path, query, headers, remoteEndPoint);
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
}
