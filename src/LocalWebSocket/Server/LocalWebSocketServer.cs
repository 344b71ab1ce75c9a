using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using LocalWebSocket.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LocalWebSocket.Server;

/// <summary>
/// An embeddable WebSocket server for the local network, wire-compatible with Dart <c>local_websocket</c>:
/// <c>GET /</c> answers the details document with <c>Server: local-websocket/1.0.0</c>, <c>/ws</c> accepts
/// WebSockets, and client messages are relayed as <see cref="LocalWebSocketServerOptions.Routing"/> says.
/// </summary>
/// <remarks>
/// <para>All members are thread-safe. The server can be started again after it was stopped; dispose it to
/// end its streams.</para>
/// <para>Events are raised on the connection that caused them (a slow handler slows that client only),
/// after the item was published to the streams; exceptions thrown by handlers are logged and swallowed. Each stream (<see cref="Messages"/>,
/// <see cref="ClientConnections"/>...) can be enumerated by many readers at once: every enumeration gets its own
/// buffer of <see cref="LocalWebSocketServerOptions.StreamBufferCapacity"/> items, and a reader that falls
/// behind loses its oldest items rather than slowing anything else.</para>
/// </remarks>
public sealed partial class LocalWebSocketServer : IAsyncDisposable
{
    private readonly LocalWebSocketServerOptions _options;
    private readonly TimeProvider _time;
    private readonly System.Net.WebSockets.WebSocketCreationOptions _webSocketOptions;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly Lock _clientsGate = new();
    private readonly Dictionary<string, ConnectedClient> _clients = new(StringComparer.Ordinal);
    private readonly Lock _detailsGate = new();
    private readonly EventStream<MessageReceivedEventArgs> _messages;
    private readonly EventStream<ClientConnectedEventArgs> _connections;
    private readonly EventStream<ClientDisconnectedEventArgs> _disconnections;
    private readonly EventStream<ClientsChangedEventArgs> _clientsChanges;
    private readonly EventStream<bool> _runningChanges;

    private readonly SendScheduler[] _sendSchedulers =
        [.. Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 16)).Select(_ => new SendScheduler())];
    private int _nextSendScheduler;
    private readonly List<ConnectedClient> _clientsInOrder = [];
    private ConnectedClient[]? _clientSnapshot;
    private bool _acceptingClients;
    private JsonObject _details;
    private byte[] _detailsDocument;
    // Written under _lifecycle; _running is also read without it (IsRunning, hosts' requests).
    private bool _running;
    private Socket? _listener;
    private IPEndPoint? _localEndPoint;
    private CancellationTokenSource? _stopping;
    private CancellationToken _stoppingToken = new(canceled: true);
    private Task? _acceptLoop;
    private Task? _idleLoop;
    private bool _disposed;
    private int _lastPort;
    private Discovery.Mdns.MdnsAdvertiser? _advertiser;
    private readonly System.Net.Security.SslStreamCertificateContext? _certificateContext;

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Settings; copied, so later changes to the object do not affect this server.</param>
    /// <param name="loggerFactory">Where the server logs connections and errors; nowhere by default.</param>
    public LocalWebSocketServer(LocalWebSocketServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = (options ?? new LocalWebSocketServerOptions()).Snapshot();
        // The options' routes and the web client's, which belong to this server (its client list is this server's).
        _routes = _options.Routes.Clone();
        if (_options.WebClientPath is { } webClient)
        {
            WebClient.Map(_routes, webClient, this, _options.RequestAuthenticator);
        }
        Logger = (ILogger?)loggerFactory?.CreateLogger<LocalWebSocketServer>() ?? NullLogger.Instance;
        _webSocketOptions = WebSocketOptions(subProtocol: null);
        if (_options.Certificate is { } certificate)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new ArgumentException("The TLS certificate needs its private key.", nameof(options));
            }

            CertificateFingerprint = Security.TlsCertificates.Fingerprint(certificate);
            _certificateContext = System.Net.Security.SslStreamCertificateContext.Create(certificate, null);
        }

        _details = _options.Details;
        _detailsDocument = Serialize(_details);
        CreateInstruments();
        _time = _options.TimeProvider;
        _handshake = new ServerHandshake(this, _options, _certificateContext);
        _addressLimits = new AddressLimiter(_options.MaxConnectionsPerIp, _options.HandshakesPerSecondPerIp, _time);

        var capacity = _options.StreamBufferCapacity;
        Action dropped = Counters.CountStreamItemDropped;
        _messages = new(capacity, dropped);
        _connections = new(capacity, dropped);
        _disconnections = new(capacity, dropped);
        _clientsChanges = new(capacity, dropped);
        _runningChanges = new(capacity, dropped);
    }

    /// <summary>A client joined. Raised after it is in <see cref="Clients"/>.</summary>
    public event EventHandler<ClientConnectedEventArgs>? ClientConnected;

    /// <summary>A client left, with its close code and reason. Raised exactly once per client.</summary>
    public event EventHandler<ClientDisconnectedEventArgs>? ClientDisconnected;

    /// <summary>A client joined or left; carries the current set.</summary>
    public event EventHandler<ClientsChangedEventArgs>? ClientsChanged;

    /// <summary>A client sent a message. Raised after the message was relayed.</summary>
    public event EventHandler<MessageReceivedEventArgs>? MessageReceived;

    /// <summary>The server started listening.</summary>
    public event EventHandler? Started;

    /// <summary>The server stopped and every client left.</summary>
    public event EventHandler? Stopped;

    /// <summary>Every message clients send, with its sender (see the remarks on readers that fall behind).</summary>
    public IAsyncEnumerable<MessageReceivedEventArgs> Messages => _messages;

    /// <summary>Every client that joins.</summary>
    public IAsyncEnumerable<ClientConnectedEventArgs> ClientConnections => _connections;

    /// <summary>Every client that leaves, with its close code and reason.</summary>
    public IAsyncEnumerable<ClientDisconnectedEventArgs> ClientDisconnections => _disconnections;

    /// <summary>The set of clients each time it changes.</summary>
    public IAsyncEnumerable<ClientsChangedEventArgs> ClientsChanges => _clientsChanges;

    /// <summary><see langword="true"/> each time the server starts, <see langword="false"/> each time it has stopped.</summary>
    public IAsyncEnumerable<bool> RunningChanges => _runningChanges;

    /// <summary>
    /// A copy of the settings this server runs with, made at each read: changing it changes nothing in the
    /// running server (they are fixed when it is made; its details change through <see cref="UpdateDetails"/>).
    /// </summary>
    public LocalWebSocketServerOptions Options => _options.Snapshot();

    /// <summary>Whether the server is running: listening on its own, or hosted (<see cref="StartHostedAsync"/>).</summary>
    public bool IsRunning => Volatile.Read(ref _running);

    /// <summary>The address and port the server listens on (for a hosted server, the host's, when it gave one).</summary>
    /// <exception cref="InvalidOperationException">The server is not running, or is hosted without an endpoint.</exception>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException(
        IsRunning ? "The server is hosted without an endpoint of its own." : "The server is not running.");

    /// <summary>The port the server listens on (the real one when the options asked for port 0).</summary>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public int Port => LocalEndPoint.Port;

    /// <summary>
    /// The server's HTTP address, e.g. <c>http://192.168.1.20:8080/</c>. For a wildcard listen address it
    /// names this machine's first LAN IPv4 address (or loopback when there is none).
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public Uri Address => new UriBuilder(
        IsSecure && !_options.AllowPlainDetails ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, FormatHost(UsableAddress()), Port, "/").Uri;

    /// <summary>The WebSocket URL clients connect to, e.g. <c>ws://192.168.1.20:8080/ws</c>.</summary>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public Uri WebSocketUrl => new UriBuilder(IsSecure ? "wss" : "ws", FormatHost(UsableAddress()), Port, Protocol.ProtocolConstants.WebSocketPath).Uri;

    /// <summary>
    /// Every WebSocket URL clients can connect to. For a wildcard listen address (<c>0.0.0.0</c>, <c>::</c>) one
    /// per address of this machine, the LAN's first (IPv6 link-local ones left out) and loopback last, so that
    /// an app can show or share each; for a specific listen address, its one URL.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public IReadOnlyList<Uri> WebSocketUrls =>
        [.. ReachableAddresses().Select(address => new UriBuilder(IsSecure ? "wss" : "ws", FormatHost(address), Port, Protocol.ProtocolConstants.WebSocketPath).Uri)];

    /// <summary>The clients connected now.</summary>
    public IReadOnlyList<ConnectedClient> Clients => Array.AsReadOnly(ClientSnapshot());

    private int ClientCount
    {
        get
        {
            lock (_clientsGate)
            {
                return _clientsInOrder.Count;
            }
        }
    }

    /// <summary>A copy of the details document answered at <c>GET /</c>.</summary>
    public JsonObject Details
    {
        get
        {
            lock (_detailsGate)
            {
                return (JsonObject)_details.DeepClone();
            }
        }
    }

    /// <summary>Whether the server speaks <c>wss://</c> (a certificate was given).</summary>
    public bool IsSecure => _certificateContext is not null;

    /// <summary>The SHA-256 fingerprint of the TLS certificate (64 lower-case hex digits), for clients to pin.</summary>
    public string? CertificateFingerprint { get; }

    /// <summary>
    /// Why mDNS advertising is not running although <see cref="LocalWebSocketServerOptions.AdvertiseMdns"/> asked
    /// for it, if it failed; or, while it runs, which details its TXT record leaves out and why (code
    /// <see cref="LocalWebSocketErrorCode.DetailsNotAdvertised"/>), updated with every change of details.
    /// </summary>
    public LocalWebSocketException? AdvertisingError { get; private set; }

    /// <summary>
    /// The mDNS service instance name while advertising: the <see cref="LocalWebSocketServerOptions.MdnsServiceName"/>
    /// (else the details' <c>name</c>) as probed for at start (RFC 6762 section 8), e.g. <c>Game Room</c>, or
    /// <c>Game Room (2)</c> when another host on the link already had it. It can change while the server runs
    /// if a host that claims the same name appears later (section 9).
    /// </summary>
    public string? AdvertisedServiceName => _advertiser?.InstanceName;

    internal ILogger Logger { get; }

    internal ServerCounters Counters { get; } = new();

    /// <summary>The scheduler of a new client's writer: one per processor, handed out in turn.</summary>
    internal SendScheduler NextSendScheduler() =>
        _sendSchedulers[(int)((uint)Interlocked.Increment(ref _nextSendScheduler) % (uint)_sendSchedulers.Length)];

    /// <summary>The serialised details document, swapped atomically when the details change.</summary>
    internal byte[] DetailsDocument => Volatile.Read(ref _detailsDocument);

    /// <summary>Changes the details document, also while running; <c>GET /</c> answers the new one at once.</summary>
    /// <param name="update">Changes a copy of the current details.</param>
    public void UpdateDetails(Action<JsonObject> update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_detailsGate)
        {
            var copy = (JsonObject)_details.DeepClone();
            update(copy);
            Volatile.Write(ref _detailsDocument, Serialize(copy));
            _details = copy;
        }

        PublishDetails();
    }

    /// <summary>Replaces the details document, also while running.</summary>
    public void SetDetails(JsonObject details)
    {
        ArgumentNullException.ThrowIfNull(details);
        var copy = (JsonObject)details.DeepClone();
        lock (_detailsGate)
        {
            Volatile.Write(ref _detailsDocument, Serialize(copy));
            _details = copy;
        }

        PublishDetails();
    }

    /// <summary>Tells mDNS browsers about new details; failures are logged, never thrown at the caller.</summary>
    private void PublishDetails()
    {
        if (_advertiser is not { } advertiser)
        {
            return;
        }

        _ = UpdateAsync();

        async Task UpdateAsync()
        {
            try
            {
                // The new TXT record is in place before the first await: say what it leaves out before anyone can see it.
                var announcing = advertiser.UpdateDetailsAsync(Published(Details), CancellationToken.None);
                ReportDetailsLeftOut(advertiser);
                await announcing.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                Logger.AnnouncingFailed(exception);
            }
        }
    }

    private async Task StartAdvertisingAsync(IPAddress? listenAddress, CancellationToken cancellationToken)
    {
        AdvertisingError = null;
        if (!_options.AdvertiseMdns)
        {
            return;
        }

        if (listenAddress is null)
        {
            AdvertisingError = new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectionFailed, "mDNS advertising needs the endpoint the host listens on; the server was started without one.");
            Logger.AdvertisingProblem(AdvertisingError.Message);
            return;
        }

        // A specific listen address is the interface to advertise on (any loopback one: lo); 0.0.0.0 and :: mean
        // every suitable one (none named).
        IReadOnlyList<IPAddress> interfaces = _options.MdnsInterfaces.Count > 0
            ? [.. _options.MdnsInterfaces]
            : IPAddress.IsLoopback(listenAddress) ? [IPAddress.Loopback]
            : listenAddress.Equals(IPAddress.Any) || listenAddress.Equals(IPAddress.IPv6Any) ? [] : [listenAddress];
        var details = Details;
        var name = _options.MdnsServiceName
            ?? (details["name"] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var text) ? text : "LocalWebSocket");
        var advertiser = new Discovery.Mdns.MdnsAdvertiser(name, Port, Protocol.ProtocolConstants.WebSocketPath, Published(details), Logger, listenAddress: listenAddress);
        try
        {
            await advertiser.StartAsync(interfaces, cancellationToken).ConfigureAwait(false);
            _advertiser = advertiser;
            Logger.Advertising(advertiser.InstanceFqdn, advertiser.LinksDescription);
            ReportDetailsLeftOut(advertiser);
        }
        catch (OperationCanceledException)
        {
            await advertiser.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception exception) when (exception is LocalWebSocketException or ArgumentException or System.Net.Sockets.SocketException)
        {
            await advertiser.DisposeAsync().ConfigureAwait(false);
            AdvertisingError = exception as LocalWebSocketException
                ?? new LocalWebSocketException(LocalWebSocketErrorCode.ConnectionFailed, "mDNS advertising failed: " + exception.Message, null, exception);
            Logger.AdvertisingUnavailable(exception);
        }
    }

    /// <summary>Says on <see cref="AdvertisingError"/>, and in the log when it changes, which details the TXT record leaves out.</summary>
    private void ReportDetailsLeftOut(Discovery.Mdns.MdnsAdvertiser advertiser)
    {
        var leftOut = advertiser.DetailsLeftOut;
        var error = leftOut.Count == 0 ? null : new LocalWebSocketException(
            LocalWebSocketErrorCode.DetailsNotAdvertised,
            $"The mDNS TXT record of {advertiser.InstanceName} leaves out {string.Join(", ", leftOut)}. Browsers that find this server over mDNS see its other details; GET / answers them all.");
        var before = AdvertisingError;
        AdvertisingError = error;
        if (error is not null && error.Message != before?.Message)
        {
            Logger.AdvertisingProblem(error.Message);
        }
    }

    /// <summary>Looks a client up by its <see cref="ConnectedClient.Id"/>.</summary>
    public bool TryGetClient(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ConnectedClient? client)
    {
        lock (_clientsGate)
        {
            return _clients.TryGetValue(id, out client);
        }
    }

    /// <summary>Counters since the server was created.</summary>
    public ServerStatistics GetStatistics() => Counters.Snapshot(ClientCount, Volatile.Read(ref _connectionCount));

    /// <summary>Binds the listen address and starts accepting connections.</summary>
    /// <exception cref="InvalidOperationException">The server is already running.</exception>
    /// <exception cref="SocketException">The address cannot be bound (port in use, address not on this machine).</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotStart();
            var address = ParseHost(_options.Host);
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (address.Equals(IPAddress.IPv6Any))
                {
                    listener.DualMode = true;
                }

                AllowRebindDuringTimeWait(listener);
                BindPreferringLastPort(listener, address);
                listener.Listen(_options.ListenBacklog);
            }
            catch
            {
                listener.Dispose();
                throw;
            }

            var endPoint = (IPEndPoint)listener.LocalEndPoint!;
            _lastPort = endPoint.Port;
            _listener = listener;
            await StartCoreAsync(endPoint, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        _runningChanges.Publish(true);
        Raise(Started, EventArgs.Empty);
    }

    private void ThrowIfCannotStart()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_running)
        {
            throw new InvalidOperationException("The server is already running.");
        }
    }

    /// <summary>Starts what a running server runs whoever hosts it: the accept loop when it listens, the idle check, advertising.</summary>
    private async Task StartCoreAsync(IPEndPoint? endPoint, CancellationToken cancellationToken)
    {
        _localEndPoint = endPoint;
        _stopping = new CancellationTokenSource();
        _stoppingToken = _stopping.Token;
        lock (_clientsGate)
        {
            _acceptingClients = true;
        }

        Volatile.Write(ref _running, true);
        _acceptLoop = _listener is { } listener ? AcceptLoopAsync(listener, _stoppingToken) : Task.CompletedTask;
        _idleLoop = _options.IdleTimeout == Timeout.InfiniteTimeSpan ? Task.CompletedTask : CloseIdleClientsAsync(_stoppingToken);
        if (_listener is not null)
        {
            Logger.Listening(endPoint);
        }
        else
        {
            Logger.StartedHosted(endPoint);
        }

        try
        {
            await StartAdvertisingAsync(endPoint?.Address, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Cancelled while probing for the mDNS name: not started, as the exception says.
            await StopCoreAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stops listening, closes every client with 1001 (going away) in parallel, waits for them at most
    /// <see cref="LocalWebSocketServerOptions.CloseTimeout"/>, and releases the port.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_running)
            {
                throw new InvalidOperationException("The server is not running.");
            }

            await StopCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }

        _runningChanges.Publish(false);
        Raise(Stopped, EventArgs.Empty);
    }

    private async Task StopCoreAsync()
    {
        ConnectedClient[] clients;
        lock (_clientsGate)
        {
            _acceptingClients = false;
            clients = [.. _clientsInOrder];
        }

        if (_advertiser is { } advertiser)
        {
            _advertiser = null;
            await advertiser.DisposeAsync().ConfigureAwait(false);
        }

        Volatile.Write(ref _running, false);
        await _stopping!.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        _listener = null;
        try
        {
            await _acceptLoop!.ConfigureAwait(false);
            await _idleLoop!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (Exception exception)
        {
            Logger.AcceptLoopFailed(exception);
        }

        foreach (var client in clients)
        {
            client.RequestClose(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "Server stopping", discardQueued: false);
        }

        // Each close is bounded by the close timeout, after which its connection is aborted; the extra
        // second only covers scheduling on a loaded machine.
        var all = Task.WhenAll(clients.Select(client => client.Completion));
        try
        {
            await all.WaitAsync(_options.CloseTimeout + TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var client in clients)
            {
                client.Abort();
            }
        }

        _stopping.Dispose();
        _stopping = null;
        _localEndPoint = null;
        Logger.Stopped();
    }

    /// <summary>Stops the server if it runs and ends every stream. Safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        var stopped = false;
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_running)
            {
                await StopCoreAsync().ConfigureAwait(false);
                stopped = true;
            }
        }
        finally
        {
            _lifecycle.Release();
        }

        if (stopped)
        {
            _runningChanges.Publish(false);
            Raise(Stopped, EventArgs.Empty);
        }

        if (_options.MeterFactory is null)
        {
            // A factory's meter is the factory's to dispose (and may be shared with other servers).
            Meter.Dispose();
        }

        _messages.Complete();
        _runningChanges.Complete();
        _connections.Complete();
        _disconnections.Complete();
        _clientsChanges.Complete();
    }

    /// <summary>Queues a text message for every connected client.</summary>
    /// <returns>How many clients it was queued for.</returns>
    public int SendToAll(string text) => SendToAll(WebSocketMessage.FromText(text));

    /// <summary>Queues a message for every connected client; it is encoded once for all of them.</summary>
    /// <returns>How many clients it was queued for.</returns>
    public int SendToAll(WebSocketMessage message) => SendWhere(static _ => true, message);

    /// <summary>Queues a message for one client.</summary>
    /// <returns>Whether the client is connected and the message was queued.</returns>
    public bool SendTo(string clientId, WebSocketMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return TryGetClient(clientId, out var client) && client.Send(message);
    }

    /// <summary>Queues a message for every client that <paramref name="predicate"/> selects.</summary>
    /// <returns>How many clients it was queued for.</returns>
    public int SendWhere(Func<ConnectedClient, bool> predicate, WebSocketMessage message)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ArgumentNullException.ThrowIfNull(message);
        var outgoing = OutgoingMessage.FromMessage(message);
        var count = 0;
        try
        {
            // Every queue adds its own reference, and this one, made with the message, is held until the last
            // queue has it: handed to the first queue, that queue's writer could send the message and return its
            // buffer to the pool while it is still being queued elsewhere.
            foreach (var client in ClientSnapshot())
            {
                if (predicate(client) && client.Enqueue(outgoing, handOverReference: false))
                {
                    count++;
                }
            }

            return count;
        }
        finally
        {
            outgoing.Release();
        }
    }

    /// <summary>Closes one client with a code and reason and waits until it has left.</summary>
    /// <returns>Whether such a client was connected.</returns>
    public async Task<bool> DisconnectClientAsync(
        string clientId,
        System.Net.WebSockets.WebSocketCloseStatus closeStatus = System.Net.WebSockets.WebSocketCloseStatus.NormalClosure,
        string? reason = null,
        CancellationToken cancellationToken = default)
    {
        if (!TryGetClient(clientId, out var client))
        {
            return false;
        }

        await client.DisconnectAsync(closeStatus, reason, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Sets SO_REUSEADDR itself, so that a restart binds the port at once while old connections sit in
    /// TIME_WAIT. <see cref="SocketOptionName.ReuseAddress"/> is not used: on Linux .NET maps it to
    /// SO_REUSEPORT as well, which would let two servers share a port. Windows needs nothing (there the
    /// option would let another process take the port over).
    /// </summary>
    private static void AllowRebindDuringTimeWait(Socket listener)
    {
        if (OperatingSystem.IsLinux())
        {
            listener.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsFreeBSD())
        {
            listener.SetRawSocketOption(0xFFFF /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
    }

    /// <summary>
    /// Port 0 picks a free port the first time; a restart of the same server takes the same port again when
    /// it is free, so clients find it at the URL they knew.
    /// </summary>
    private void BindPreferringLastPort(Socket listener, IPAddress address)
    {
        if (_options.Port == 0 && _lastPort != 0)
        {
            try
            {
                listener.Bind(new IPEndPoint(address, _lastPort));
                return;
            }
            catch (SocketException)
            {
                // Taken meanwhile: any free port will do.
            }
        }

        listener.Bind(new IPEndPoint(address, _options.Port));
    }

    /// <summary>Closes clients that sent nothing within the idle timeout, checking a few times per timeout.</summary>
    private async Task CloseIdleClientsAsync(CancellationToken stopping)
    {
        var timeout = _options.IdleTimeout;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 4, 10, 1000)), _time);
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
        {
            foreach (var client in ClientSnapshot())
            {
                if (client.IsConnected && _time.GetElapsedTime(client.LastReceivedTimestamp) > timeout)
                {
                    Counters.CountIdleTimeout();
                    client.RequestClose(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "Idle timeout", discardQueued: false);
                }
            }
        }
    }

    private byte[] Serialize(JsonObject details) => System.Text.Encoding.UTF8.GetBytes(Published(details).ToJsonString());

    /// <summary>The details as published (document and mDNS): the app's, plus the TLS fingerprint when secure.</summary>
    private JsonObject Published(JsonObject details)
    {
        if (CertificateFingerprint is null)
        {
            return details;
        }

        var published = (JsonObject)details.DeepClone();
        published["tlsFingerprint"] = CertificateFingerprint;
        return published;
    }

    private static IPAddress ParseHost(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(host);

    private static string FormatHost(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private List<IPAddress> ReachableAddresses()
    {
        var bound = LocalEndPoint.Address;
        var dual = bound.Equals(IPAddress.IPv6Any);
        if (!dual && !bound.Equals(IPAddress.Any))
        {
            return [bound.IsIPv4MappedToIPv6 ? bound.MapToIPv4() : bound];
        }

        List<IPAddress> addresses = [.. LocalNetwork.Addresses()
            .Where(local => local.IsLan && (local.IsIPv4 || (dual && !local.Address.IsIPv6LinkLocal)))
            .OrderBy(local => local.IsIPv4 ? 0 : 1)
            .Select(local => local.Address)
            .Distinct()];
        addresses.Add(IPAddress.Loopback);
        if (dual)
        {
            addresses.Add(IPAddress.IPv6Loopback);
        }

        return addresses;
    }

    private IPAddress UsableAddress()
    {
        var bound = LocalEndPoint.Address;
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            return bound.IsIPv4MappedToIPv6 ? bound.MapToIPv4() : bound;
        }

        return LocalNetwork.LanIPv4() is [var first, ..] ? first : IPAddress.Loopback;
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, args);
        }
        catch (Exception exception)
        {
            Logger.HandlerThrew(exception);
        }
    }

    private void Raise(EventHandler? handler, EventArgs args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception exception)
        {
            Logger.HandlerThrew(exception);
        }
    }
}
