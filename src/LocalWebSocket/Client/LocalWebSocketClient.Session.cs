using System.Net.WebSockets;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Client;

public sealed partial class LocalWebSocketClient
{
    private Session? _session;
    private ClientConnection? _current;

    // The current connection while the state is Connected or Reconnected (its outbox sent), else null: what a
    // message is sent on, read without a lock.
    private ClientConnection? _openForSends;
    private Uri? _lastUrl;

    /// <summary>Connects to a server's WebSocket URL, e.g. <c>ws://192.168.1.20:8080/ws</c>.</summary>
    /// <inheritdoc cref="ConnectAsync(Uri, CancellationToken)"/>
    public Task ConnectAsync(string url, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return ConnectAsync(new Uri(url, UriKind.Absolute), cancellationToken);
    }

    /// <summary>
    /// Connects to a server's WebSocket URL, sending <see cref="Details"/> as query parameters. Each attempt
    /// (name resolution, TCP, handshake) is bounded by <see cref="LocalWebSocketClientOptions.ConnectTimeout"/>.
    /// When already connected, the current connection is closed with 1001 first. Once connected, a lost
    /// connection is re-established by the reconnect policy until <see cref="DisconnectAsync(CancellationToken)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is not a <c>ws://</c> URL.</exception>
    /// <exception cref="LocalWebSocketException">The attempt failed: <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>,
    /// <see cref="LocalWebSocketErrorCode.ConnectTimeout"/>, <see cref="LocalWebSocketErrorCode.AuthenticationFailed"/> (401/403),
    /// <see cref="LocalWebSocketErrorCode.HandshakeFailed"/>, <see cref="LocalWebSocketErrorCode.AfterConnectFailed"/>, or
    /// <see cref="LocalWebSocketErrorCode.ReconnectGaveUp"/> when <see cref="LocalWebSocketClientOptions.ReconnectOnFirstConnect"/> retried.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task ConnectAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ClientHandshake.BuildRequestUri(url, Details);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await EndSessionAsync(WebSocketCloseStatus.EndpointUnavailable, "Reconnecting").ConfigureAwait(false);
            _lastUrl = url;
            var session = new Session(url);
            lock (_stateGate)
            {
                _session = session;
            }

            Transition(ConnectionState.Connecting);
            ClientConnection connection;
            try
            {
                connection = await ConnectFirstAsync(session, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                var error = exception as LocalWebSocketException
                    ?? (exception is OperationCanceledException ? null : new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, exception.Message, null, exception));
                EndSessionState(session, null, null, error);
                session.Dispose();
                throw;
            }

            session.Loop = RunSessionAsync(session, connection);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Closes the connection with 1000 (normal closure), waits for the server's close (at most
    /// <see cref="LocalWebSocketClientOptions.CloseTimeout"/>), and stops reconnecting. Messages still in the
    /// outbox fail with <see cref="LocalWebSocketErrorCode.NotConnected"/>. Does nothing when not connected.
    /// </summary>
#pragma warning disable RS0027 // Shipped with its optional token; the overload with a code takes its token as WebSocket.CloseAsync does.
    public Task DisconnectAsync(CancellationToken cancellationToken = default) =>
        DisconnectAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
#pragma warning restore RS0027

    /// <summary>
    /// Closes the connection with <paramref name="closeStatus"/> and <paramref name="reason"/> (what the server's
    /// close event shows), waits for the server's close (at most <see cref="LocalWebSocketClientOptions.CloseTimeout"/>),
    /// and stops reconnecting. Messages still in the outbox fail with <see cref="LocalWebSocketErrorCode.NotConnected"/>.
    /// Does nothing when not connected.
    /// </summary>
    /// <param name="closeStatus">1000-1003, 1007-1014, or an application's code from 3000 to 4999.</param>
    /// <param name="reason">At most 123 UTF-8 bytes, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops waiting; the connection still closes.</param>
    /// <exception cref="ArgumentOutOfRangeException">A code that cannot be sent (1005, 1006, 1015, reserved ones).</exception>
    /// <exception cref="ArgumentException">A reason longer than 123 UTF-8 bytes.</exception>
    public Task DisconnectAsync(WebSocketCloseStatus closeStatus, string? reason, CancellationToken cancellationToken)
    {
        // Checked here, not in the async part, so that a bad code throws at the call, as option setters do.
        Protocol.CloseCodes.EnsureSendable(closeStatus, reason, nameof(closeStatus), nameof(reason));
        return DisconnectCoreAsync(closeStatus, reason, cancellationToken);
    }

    private async Task DisconnectCoreAsync(WebSocketCloseStatus closeStatus, string? reason, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EndSessionAsync(closeStatus, reason).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Drops the current connection, if any, and reconnects at once, skipping any backoff wait: call it when
    /// the network changed (Wi-Fi switched, app resumed), since the old connection may be dead without
    /// knowing it. When the client is disconnected, it connects again to the last URL.
    /// </summary>
    /// <exception cref="InvalidOperationException">The client never connected.</exception>
    public async Task ReconnectNowAsync(CancellationToken cancellationToken = default)
    {
        Uri? reconnectTo = null;
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ClientConnection? current;
            Session? session;
            lock (_stateGate)
            {
                session = _session;
                current = _current;
            }

            if (session is null)
            {
                reconnectTo = _lastUrl ?? throw new InvalidOperationException("The client has never connected.");
            }
            else
            {
                session.SkipNextWait();
                current?.Abort();
            }
        }
        finally
        {
            _lifecycle.Release();
        }

        if (reconnectTo is not null)
        {
            await ConnectAsync(reconnectTo, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The first connection: one attempt, or attempts by the policy when the options say so.</summary>
    private async Task<ClientConnection> ConnectFirstAsync(Session session, CancellationToken cancellationToken)
    {
        try
        {
            return await ConnectOnceAsync(session, attempt: 0, isReconnect: false, cancellationToken).ConfigureAwait(false);
        }
        catch (LocalWebSocketException error) when (_options.ReconnectOnFirstConnect && !IsRefusal(error))
        {
            return await RetryAsync(session, error, null, isReconnect: false, cancellationToken).ConfigureAwait(false)
                ?? throw (session.Attempts == 0 ? error : GaveUp(session));
        }
    }

    /// <summary>
    /// Owns a session after its first connection: waits for each connection to end, then reconnects by the
    /// policy, until the user disconnects, a refusal, or the policy gives up.
    /// </summary>
    private async Task RunSessionAsync(Session session, ClientConnection connection)
    {
        while (true)
        {
            var end = await connection.Completion.ConfigureAwait(false);
            _counters.CountDisconnected(end.Status, end.Description);
            _logger.ConnectionEnded(end.Status, end.Description);
            lock (_stateGate)
            {
                ForgetConnectionLocked(connection);
            }

            if (session.IsStopping || (end.Error is { } refusal && IsRefusal(refusal)))
            {
                EndSessionState(session, end.Status, end.Description, session.IsStopping ? null : end.Error);
                return;
            }

            ClientConnection? next;
            try
            {
                // Reconnecting is told once the first attempt is scheduled, so that a handler of it finds the
                // attempt's time in GetStatistics().
                next = await RetryAsync(
                    session, end.Error, end.Status, isReconnect: true, CancellationToken.None,
                    onFirstScheduled: () => Transition(ConnectionState.Reconnecting, end.Status, end.Description, end.Error)).ConfigureAwait(false);
            }
            catch (LocalWebSocketException error)
            {
                EndSessionState(session, null, null, error);
                return;
            }
            catch (OperationCanceledException) when (session.IsStopping)
            {
                EndSessionState(session, null, null, null);
                return;
            }

            if (next is null)
            {
                var gaveUp = session.Attempts == 0 ? end.Error : GaveUp(session);
                EndSessionState(session, session.Attempts == 0 ? end.Status : null, session.Attempts == 0 ? end.Description : null, gaveUp);
                return;
            }

            connection = next;
        }
    }

    /// <summary>
    /// Attempts by the policy until one connects (returns it) or the policy gives up (returns null). A
    /// refusal is thrown: it is never retried. A server that said how long to wait (<c>Retry-After</c> with
    /// 429 or 503) is not tried again sooner, whatever the policy's delay.
    /// </summary>
    private async Task<ClientConnection?> RetryAsync(
        Session session,
        LocalWebSocketException? lastError,
        WebSocketCloseStatus? lastStatus,
        bool isReconnect,
        CancellationToken cancellationToken,
        Action? onFirstScheduled = null)
    {
        var policy = _options.ReconnectPolicy;
        var lostAt = _time.GetUtcNow();
        var previousDelay = TimeSpan.Zero;
        session.Attempts = 0;
        for (var attempt = 1; ; attempt++)
        {
            var now = _time.GetUtcNow();
            var context = new ReconnectContext
            {
                Attempt = attempt,
                PreviousDelay = previousDelay,
                SinceDisconnected = now - lostAt,
                SinceLastConnected = _counters.LastConnectedAt is { } connectedAt ? now - connectedAt : null,
                LastError = lastError,
                LastCloseStatus = lastStatus,
            };
            if (policy.NextDelay(context) is not { } delay)
            {
                _counters.AttemptsEnded();
                if (attempt == 1)
                {
                    onFirstScheduled?.Invoke();
                }
                else
                {
                    policy.OnGaveUp(attempt - 1, lastError);
                }

                return null;
            }

            if (lastError?.RetryAfter is { } retryAfter && retryAfter > delay)
            {
                delay = retryAfter;
            }

            _counters.AttemptScheduled(attempt, now + delay);
            _logger.ReconnectScheduled(delay, attempt);
            if (attempt == 1)
            {
                onFirstScheduled?.Invoke();
            }

            await session.WaitAsync(delay, _time, cancellationToken).ConfigureAwait(false);
            _counters.AttemptStarted();
            session.Attempts = attempt;
            try
            {
                var connection = await ConnectOnceAsync(session, attempt, isReconnect, cancellationToken).ConfigureAwait(false);
                policy.OnReconnected(attempt);
                return connection;
            }
            catch (LocalWebSocketException error) when (!IsRefusal(error))
            {
                lastError = session.LastAttemptError = error;
                lastStatus = null;
            }

            previousDelay = delay;
        }
    }

    /// <summary>
    /// One connection attempt: prepares the request, connects and upgrades within the connect timeout,
    /// starts receiving, runs the after-connect hook, sends the outbox, and only then reports the state.
    /// </summary>
    private async Task<ClientConnection> ConnectOnceAsync(Session session, int attempt, bool isReconnect, CancellationToken cancellationToken)
    {
        var startedAt = _time.GetTimestamp();
        using var activity = Internal.Telemetry.Source.StartActivity(LocalWebSocketTelemetry.ClientConnectActivity, System.Diagnostics.ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("server.address", session.Url.IdnHost);
            activity.SetTag("server.port", session.Url.Port);
            activity.SetTag("localwebsocket.attempt", attempt);
        }

        string? errorType = null;
        _logger.Connecting(session.Url, attempt);
        try
        {
            var connection = await ConnectOnceCoreAsync(session, attempt, isReconnect, cancellationToken).ConfigureAwait(false);
            _logger.Connected(Url);
            return connection;
        }
        catch (Exception exception)
        {
            errorType = Internal.Telemetry.ErrorType(exception);
            _logger.ConnectFailed(session.Url, exception.Message);
            activity?.SetTag("error.type", errorType);
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, exception.Message);
            throw;
        }
        finally
        {
            var outcome = new KeyValuePair<string, object?>("error.type", errorType);
            if (errorType is null)
            {
                _instruments.ConnectionAttempts.Add(1);
                _instruments.ConnectDuration.Record(_time.GetElapsedTime(startedAt).TotalSeconds);
            }
            else
            {
                _instruments.ConnectionAttempts.Add(1, outcome);
                _instruments.ConnectDuration.Record(_time.GetElapsedTime(startedAt).TotalSeconds, outcome);
            }
        }
    }

    private async Task<ClientConnection> ConnectOnceCoreAsync(Session session, int attempt, bool isReconnect, CancellationToken cancellationToken)
    {
        // On the client's clock, like its backoff waits.
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(session.Stopping, cancellationToken, timeout.Token);
        var request = new ConnectionRequest(
            session.Url,
            new Dictionary<string, string>(_options.Details, StringComparer.Ordinal),
            new Dictionary<string, string>(_options.Headers, StringComparer.OrdinalIgnoreCase),
            attempt,
            isReconnect);

        WebSocket webSocket;
        DeflateAgreement? deflate;
        try
        {
            if (_options.PrepareConnection is { } prepare)
            {
                try
                {
                    await prepare(request, limit.Token).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not (OperationCanceledException or LocalWebSocketException))
                {
                    throw new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "PrepareConnection threw: " + exception.Message, null, exception);
                }
            }

            var requestUri = ClientHandshake.BuildRequestUri(request.Url, new Dictionary<string, string>(request.Details));
            foreach (var name in request.Headers.Keys)
            {
                if (!OptionGuards.IsHttpToken(name) || request.Headers[name].AsSpan().ContainsAny('\r', '\n', '\0'))
                {
                    throw new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, $"Header '{name}' is not a valid HTTP header.");
                }
            }

            Url = requestUri;
            (webSocket, var subProtocol, deflate) = await ClientHandshake.ConnectAsync(requestUri, request.Headers, _options, limit.Token)
                .ConfigureAwait(false);
            SubProtocol = subProtocol;
            Extensions = deflate?.Header;
        }
        catch (OperationCanceledException exception) when (!session.IsStopping && !cancellationToken.IsCancellationRequested)
        {
            throw new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectTimeout,
                $"Connecting to {session.Url} took longer than {_options.ConnectTimeout.TotalSeconds:0.###} s.",
                null,
                exception);
        }

        var connection = new ClientConnection(this, webSocket, _options.MaxMessageSize, DeflateAgreement.SendFlags(deflate));
        lock (_stateGate)
        {
            _current = connection;
        }

        connection.Start();
        ConnectionStateChangedEventArgs? change = null;
        await _sendLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await RunAfterConnectAsync(connection, attempt, isReconnect, session.Stopping).ConfigureAwait(false);
            change = await FlushOutboxAsync(connection, isReconnect, session.Stopping).ConfigureAwait(false);
        }
        catch
        {
            connection.Abort();
            lock (_stateGate)
            {
                ForgetConnectionLocked(connection);
            }

            throw;
        }
        finally
        {
            _sendLock.Release();
        }

        _counters.CountConnected(_time.GetUtcNow(), isReconnect);
        Publish(change);
        return connection;
    }

    /// <summary>Forgets <paramref name="connection"/> if it is the current one; call with <see cref="_stateGate"/> held.</summary>
    private void ForgetConnectionLocked(ClientConnection connection)
    {
        System.Diagnostics.Debug.Assert(_stateGate.IsHeldByCurrentThread, "The state is guarded by _stateGate.");
        if (ReferenceEquals(_current, connection))
        {
            _current = null;
            Volatile.Write(ref _openForSends, null);
        }
    }

    private async Task RunAfterConnectAsync(ClientConnection connection, int attempt, bool isReconnect, CancellationToken cancellationToken)
    {
        if (_options.AfterConnect is not { } afterConnect)
        {
            return;
        }

        try
        {
            var context = new AfterConnectContext(this, attempt, isReconnect, async (data, type, token) =>
            {
                await connection.SendAsync(data, type, token).ConfigureAwait(false);
                _counters.CountSent(data.Length);
            });
            await afterConnect(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await connection.SendCloseAsync(WebSocketCloseStatus.InternalServerError, "After-connect hook failed", _options.CloseTimeout)
                .ConfigureAwait(false);
            throw new LocalWebSocketException(LocalWebSocketErrorCode.AfterConnectFailed, "The after-connect hook threw: " + exception.Message, null, exception);
        }
    }

    /// <summary>Sends a close frame once the connection's own sends (after-connect hook, outbox) are done.</summary>
    internal async Task CloseConnectionAsync(ClientConnection connection, WebSocketCloseStatus status, string? reason)
    {
        var locked = await _sendLock.WaitAsync(_options.CloseTimeout).ConfigureAwait(false);
        try
        {
            await connection.SendCloseAsync(status, reason, _options.CloseTimeout).ConfigureAwait(false);
        }
        finally
        {
            if (locked)
            {
                _sendLock.Release();
            }
        }
    }

    /// <summary>Stops the session, if any: closes its connection with <paramref name="status"/> and waits for its end.</summary>
    private async Task EndSessionAsync(WebSocketCloseStatus status, string? reason)
    {
        Session? session;
        ClientConnection? connection;
        ConnectionStateChangedEventArgs? change = null;
        lock (_stateGate)
        {
            session = _session;
            connection = _current;
            if (session is not null && _state is ConnectionState.Connected or ConnectionState.Reconnected)
            {
                change = TransitionLocked(ConnectionState.Disconnecting);
            }
        }

        if (session is null)
        {
            return;
        }

        session.Stop();
        Publish(change);
        if (connection is not null)
        {
            await CloseConnectionAsync(connection, status, reason).ConfigureAwait(false);
        }

        if (session.Loop is { } loop)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        session.Dispose();
    }

    /// <summary>Ends a session's state: Disconnected with how it ended, and the outbox failed.</summary>
    private void EndSessionState(Session session, WebSocketCloseStatus? status, string? description, LocalWebSocketException? error)
    {
        ConnectionStateChangedEventArgs? change;
        lock (_stateGate)
        {
            if (ReferenceEquals(_session, session))
            {
                _session = null;
            }

            change = TransitionLocked(ConnectionState.Disconnected, status, description, error);
        }

        Publish(change);
        FailOutbox(error ?? new LocalWebSocketException(LocalWebSocketErrorCode.NotConnected, "The client disconnected before the message was sent."));
    }

    private static LocalWebSocketException GaveUp(Session session) =>
        new(LocalWebSocketErrorCode.ReconnectGaveUp, $"Gave up connecting to {session.Url} after {session.Attempts} attempts.", null, session.LastAttemptError);

    /// <summary>Refusals never reconnect by themselves: credentials, validation and a wrong certificate will not fix themselves.</summary>
    private static bool IsRefusal(LocalWebSocketException error) =>
        error.Code is LocalWebSocketErrorCode.AuthenticationFailed or LocalWebSocketErrorCode.ValidationFailed or LocalWebSocketErrorCode.CertificateRejected;

    /// <summary>One run of connect-and-reconnect to one URL, from ConnectAsync until it ends.</summary>
    private sealed class Session(Uri url) : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Lock _gate = new();
        private TaskCompletionSource? _wake;
        private bool _skipNextWait;

        public Uri Url { get; } = url;

        public Task? Loop { get; set; }

        /// <summary>Attempts made by the current reconnect run.</summary>
        public int Attempts { get; set; }

        /// <summary>Why the last attempt of the current run failed.</summary>
        public LocalWebSocketException? LastAttemptError { get; set; }

        public CancellationToken Stopping => _stop.Token;

        public bool IsStopping => _stop.IsCancellationRequested;

        public void Stop() => _stop.Cancel();

        /// <summary>Makes the current or next backoff wait end at once (reconnect now).</summary>
        public void SkipNextWait()
        {
            lock (_gate)
            {
                _skipNextWait = true;
                _wake?.TrySetResult();
            }
        }

        public async Task WaitAsync(TimeSpan delay, TimeProvider time, CancellationToken cancellationToken)
        {
            Task woken;
            lock (_gate)
            {
                if (_skipNextWait || delay <= TimeSpan.Zero)
                {
                    _skipNextWait = false;
                    return;
                }

                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                woken = _wake.Task;
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, cancellationToken);
            var waited = Task.Delay(delay, time, linked.Token);
            await Task.WhenAny(waited, woken).ConfigureAwait(false);
            lock (_gate)
            {
                _skipNextWait = false;
                _wake = null;
            }

            linked.Token.ThrowIfCancellationRequested();
        }

        public void Dispose() => _stop.Dispose();
    }
}
