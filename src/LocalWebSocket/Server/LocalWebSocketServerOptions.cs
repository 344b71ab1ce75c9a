using System.Text.Json.Nodes;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Server;

/// <summary>
/// Settings of a <see cref="LocalWebSocketServer"/>. Every setter checks its value and throws
/// <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> at once; the server copies
/// the options when it is created, so later changes to this object do not affect it.
/// </summary>
public sealed class LocalWebSocketServerOptions
{
    /// <summary>The default port, the one Dart <c>local_websocket</c> servers and scanners use (<see cref="LocalWebSocketDefaults.Port"/>).</summary>
    public const int DefaultPort = LocalWebSocketDefaults.Port;

    private string _host = "0.0.0.0";
    private int _port = DefaultPort;
    private int _maxRequestHeadSize = 8 * 1024;
    private int _maxRequestHeaders = 64;
    private TimeSpan _handshakeTimeout = TimeSpan.FromSeconds(5);
    private int _maxMessageSize = LocalWebSocketDefaults.MaxMessageSize;
    private int _maxConnections = 10_000;
    private TimeSpan _keepAliveInterval = LocalWebSocketDefaults.KeepAliveInterval;
    private TimeSpan _keepAliveTimeout = LocalWebSocketDefaults.KeepAliveTimeout;
    private int _sendQueueCapacity = 8192;
    private long _sendQueueMaxBytes = 64L * 1024 * 1024;
    private SendQueueFullMode _sendQueueFullMode = SendQueueFullMode.Disconnect;
    private RoutingMode _routing = RoutingMode.Broadcast;
    private TimeSpan _closeTimeout = LocalWebSocketDefaults.CloseTimeout;
    private int _streamBufferCapacity = LocalWebSocketDefaults.StreamBufferCapacity;
    private int _listenBacklog = 512;
    private JsonObject _details = [];

    /// <summary>
    /// The address to listen on: an IP address (<c>127.0.0.1</c>, <c>0.0.0.0</c>, <c>::</c>, a LAN address)
    /// or <c>localhost</c>. <c>::</c> listens on IPv4 too. Default <c>0.0.0.0</c>, so that devices on the
    /// local network can reach the server.
    /// </summary>
    public string Host
    {
        get => _host;
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            if (!string.Equals(value, "localhost", StringComparison.OrdinalIgnoreCase) && !System.Net.IPAddress.TryParse(value, out _))
            {
                throw new ArgumentException($"'{value}' is not an IP address or 'localhost'.", nameof(value));
            }

            _host = value;
        }
    }

    /// <summary>The TCP port; 0 picks a free one (read it from <see cref="LocalWebSocketServer.Port"/>). Default 8080.</summary>
    public int Port
    {
        get => _port;
        set => _port = OptionGuards.InRange(value, 0, 65535);
    }

    /// <summary>Where client messages are relayed. Default <see cref="RoutingMode.Broadcast"/>.</summary>
    public RoutingMode Routing
    {
        get => _routing;
        set => _routing = OptionGuards.Defined(value);
    }

    /// <summary>
    /// The details document answered at <c>GET /</c>: a JSON object, e.g.
    /// <c>Details = { ["name"] = "Game", ["maxPlayers"] = 4 }</c>. Change it while running with
    /// <see cref="LocalWebSocketServer.UpdateDetails"/>.
    /// </summary>
    public JsonObject Details
    {
        get => _details;
        set => _details = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Largest HTTP request head, request line and headers included; larger gets 431. Default 8 KiB.</summary>
    public int MaxRequestHeadSize
    {
        get => _maxRequestHeadSize;
        set => _maxRequestHeadSize = OptionGuards.InRange(value, 256, 1024 * 1024);
    }

    /// <summary>Most header fields in a request; more gets 431. Default 64.</summary>
    public int MaxRequestHeaders
    {
        get => _maxRequestHeaders;
        set => _maxRequestHeaders = OptionGuards.InRange(value, 1, 1000);
    }

    /// <summary>
    /// Time a connection has to deliver a whole request head (and, on a kept-alive HTTP connection, the
    /// next one); a trickled or silent request is closed after it. Default 5 s.
    /// </summary>
    public TimeSpan HandshakeTimeout
    {
        get => _handshakeTimeout;
        set => _handshakeTimeout = OptionGuards.PositiveTime(value);
    }

    /// <summary>Largest message a client may send, in bytes; larger closes the client with 1009. Default 16 MiB.</summary>
    public int MaxMessageSize
    {
        get => _maxMessageSize;
        set => _maxMessageSize = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>Most connections at once, handshakes included; more get 503. Default 10,000.</summary>
    public int MaxConnections
    {
        get => _maxConnections;
        set => _maxConnections = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// How often the server pings an idle client. <see cref="TimeSpan.Zero"/> or
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns pings off. Default 30 s.
    /// </summary>
    public TimeSpan KeepAliveInterval
    {
        get => _keepAliveInterval;
        set => _keepAliveInterval = OptionGuards.IntervalOrOff(value);
    }

    /// <summary>
    /// How long the server waits for the pong to a keep-alive ping before it drops the client (a peer that
    /// vanished without closing). <see cref="Timeout.InfiniteTimeSpan"/> sends pings without expecting pongs.
    /// Default 30 s.
    /// </summary>
    public TimeSpan KeepAliveTimeout
    {
        get => _keepAliveTimeout;
        set => _keepAliveTimeout = OptionGuards.PositiveTimeOrInfinite(value);
    }

    /// <summary>
    /// Most messages waiting to be sent to one client. A burst from a fast sender queues here; past an eighth
    /// of it, a client relaying more than its share is read more slowly (relay backpressure), so a flood
    /// slows its sender rather than filling the room's queues; a client that stays this far behind anyway is
    /// a slow consumer (<see cref="SendQueueFullMode"/>). Default 8192.
    /// </summary>
    public int SendQueueCapacity
    {
        get => _sendQueueCapacity;
        set => _sendQueueCapacity = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// Most payload bytes waiting to be sent to one client. A message always fits an empty queue, whatever
    /// its size. Past an eighth of it, relay backpressure applies as for <see cref="SendQueueCapacity"/>.
    /// Default 64 MiB.
    /// </summary>
    public long SendQueueMaxBytes
    {
        get => _sendQueueMaxBytes;
        set => _sendQueueMaxBytes = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>What happens to a client whose send queue is full. Default <see cref="SendQueueFullMode.Disconnect"/>.</summary>
    public SendQueueFullMode SendQueueFullMode
    {
        get => _sendQueueFullMode;
        set => _sendQueueFullMode = OptionGuards.Defined(value);
    }

    /// <summary>How long a closing connection waits for the peer's close frame before it is dropped. Default 2 s.</summary>
    public TimeSpan CloseTimeout
    {
        get => _closeTimeout;
        set => _closeTimeout = OptionGuards.PositiveTime(value);
    }

    /// <summary>
    /// Items buffered for each reader of the server's streams (<see cref="LocalWebSocketServer.Messages"/>...);
    /// a reader that falls further behind loses its oldest items. Default 1024.
    /// </summary>
    public int StreamBufferCapacity
    {
        get => _streamBufferCapacity;
        set => _streamBufferCapacity = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// Checks every WebSocket request before the upgrade (tokens, headers, addresses); null (the default)
    /// lets every request in. See <see cref="Security.QueryTokenAuthenticator"/>.
    /// </summary>
    public Security.IRequestAuthenticator? RequestAuthenticator { get; set; }

    /// <summary>
    /// The certificate (with its private key) that turns the server to <c>wss://</c>; null (the default):
    /// plain <c>ws://</c>. <see cref="Security.TlsCertificates.LoadOrCreateSelfSigned"/> makes one for a LAN
    /// without a certificate authority; its SHA-256 fingerprint is published in the details document
    /// (<c>tlsFingerprint</c>) and the mDNS TXT record, for clients to pin.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// With a <see cref="Certificate"/>: whether plain-HTTP <c>GET /</c> still answers the details document
    /// (with the fingerprint) on the same port, so that scanners, Dart ones included, find the server.
    /// WebSockets always need TLS then. Default true.
    /// </summary>
    public bool AllowPlainDetails { get; set; } = true;

    /// <summary>Checks every client after the upgrade, before it joins; a refusal closes it with 1008. Null: all join.</summary>
    public Security.IClientValidator? ClientValidator { get; set; }

    /// <summary>Hooks called when clients join and leave (off the receive loops, bounded by <see cref="HookTimeout"/>).</summary>
    public Security.IClientLifecycleHandler? LifecycleHandler { get; set; }

    /// <summary>Checks every message before it is relayed (rate limits, sizes, shapes). Null: all pass.</summary>
    public Security.IMessageValidator? MessageValidator { get; set; }

    /// <summary>How long a lifecycle hook may run before it is cancelled and logged. Default 10 s.</summary>
    public TimeSpan HookTimeout
    {
        get => _hookTimeout;
        set => _hookTimeout = OptionGuards.PositiveTime(value);
    }

    private TimeSpan _hookTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Origins (e.g. <c>http://192.168.1.20:3000</c>) whose browser pages may open WebSockets here, against
    /// cross-site WebSocket hijacking. Empty (the default): no check. Requests without an <c>Origin</c>
    /// header (apps, not browsers) are always allowed; others get 403.
    /// </summary>
    public IList<string> AllowedOrigins => _allowedOrigins;

    private List<string> _allowedOrigins = [];

    /// <summary>
    /// Most connections at once from one IP address; more get 429 with <c>Retry-After</c>. Default 256: a
    /// classroom or a game night behind one NAT fits, one greedy device cannot take all of
    /// <see cref="MaxConnections"/>. Loopback is not counted unless <see cref="PerIpLimitsApplyToLoopback"/>.
    /// </summary>
    public int MaxConnectionsPerIp
    {
        get => _maxConnectionsPerIp;
        set => _maxConnectionsPerIp = OptionGuards.AtLeast(value, 1);
    }

    private int _maxConnectionsPerIp = 256;

    /// <summary>
    /// New connections per second one IP address may open (a token bucket with a burst of twice that);
    /// more get 429 with <c>Retry-After</c> saying when the next one is welcome. Default 100 (bursts of 200:
    /// a NAT'd room that rejoins at once after a restart). Loopback is not counted unless
    /// <see cref="PerIpLimitsApplyToLoopback"/>.
    /// </summary>
    public int HandshakesPerSecondPerIp
    {
        get => _handshakesPerSecondPerIp;
        set => _handshakesPerSecondPerIp = OptionGuards.AtLeast(value, 1);
    }

    private int _handshakesPerSecondPerIp = 100;

    /// <summary>
    /// Whether connections from this machine (127.0.0.0/8, ::1) count against <see cref="MaxConnectionsPerIp"/>
    /// and <see cref="HandshakesPerSecondPerIp"/>. Default false: a load test, a room of bots, a conformance
    /// suite or a local proxy all come from loopback, and the per-address limits are there against devices
    /// of the network. <see cref="MaxConnections"/> applies to every connection either way.
    /// </summary>
    public bool PerIpLimitsApplyToLoopback { get; set; }

    /// <summary>
    /// Where the server's meter (<see cref="LocalWebSocketTelemetry.Name"/>) comes from: an app's DI container
    /// passes its own (the ASP.NET Core and hosting packages do), so that it owns the meter and its listeners.
    /// Null (the default): the server makes a meter of its own, disposed with it.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>
    /// The clock of every timeout the server keeps: the handshake, the idle check, the close, hooks, the
    /// per-IP handshake rate, the refusal linger. Inject a fake one in tests. Default <see cref="TimeProvider.System"/>.
    /// The WebSocket's own keep-alive pings (<see cref="KeepAliveInterval"/>) run on the BCL's timers, which take no clock.
    /// </summary>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set => _timeProvider = value ?? throw new ArgumentNullException(nameof(value));
    }

    private TimeProvider _timeProvider = TimeProvider.System;

    /// <summary>
    /// A client that sends no message for this long is closed with 1001 <c>Idle timeout</c>.
    /// <see cref="Timeout.InfiniteTimeSpan"/> (the default) never closes idle clients; keep-alive pings
    /// still catch dead ones.
    /// </summary>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set => _idleTimeout = OptionGuards.PositiveTimeOrInfinite(value);
    }

    private TimeSpan _idleTimeout = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Whether the server advertises itself over mDNS / DNS-SD as a <c>_localws._tcp</c> service while it
    /// runs, so that browsers find it without scanning. Off by default in the library (<c>lws serve</c> turns
    /// it on). <see cref="LocalWebSocketServer.StartAsync"/> then also claims the service name on the link
    /// (RFC 6762 probing: 0.75-1 s, longer when the name is taken and a renamed one is probed), while clients
    /// can already connect. When multicast is not available the server still runs; see
    /// <see cref="LocalWebSocketServer.AdvertisingError"/>.
    /// </summary>
    public bool AdvertiseMdns { get; set; }

    /// <summary>
    /// The interfaces to advertise on, each named by one of its addresses (IPv4 or IPv6); mDNS runs over IPv4
    /// and IPv6 on each where it can. Empty (the default): the listen address's interface when it is a specific
    /// address, otherwise every interface that is up, multicast-capable and not loopback, as they come and go.
    /// </summary>
    public IList<System.Net.IPAddress> MdnsInterfaces => _mdnsInterfaces;

    private List<System.Net.IPAddress> _mdnsInterfaces = [];

    /// <summary>The mDNS service name; by default the details' <c>name</c>, or <c>LocalWebSocket</c>.</summary>
    public string? MdnsServiceName { get; set; }

    /// <summary>The listen backlog: connections the OS queues before they are accepted. Default 512.</summary>
    public int ListenBacklog
    {
        get => _listenBacklog;
        set => _listenBacklog = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// Where the server serves its web client, a self-contained page (no external assets) that joins the hub from any
    /// browser with a display name (<c>?name=Ana</c> presets it), e.g. <c>"/app"</c>; with it, <c>{path}/clients</c>
    /// lists the connected clients and their details as JSON, to those <see cref="RequestAuthenticator"/> lets in (the
    /// page passes its other query parameters on, so <c>/app?token=s3</c> joins a server that wants that token).
    /// Null (the default): no web client. Built on <see cref="Routes"/>: the path must be free there.
    /// </summary>
    /// <exception cref="ArgumentException">Not a route path (see <see cref="HttpRouteTable.MapGet"/>).</exception>
    public string? WebClientPath
    {
        get => _webClientPath;
        set
        {
            if (value is not null)
            {
                // Checked as the route will be mapped: on a scratch table.
                new HttpRouteTable().MapGet(value, static (_, _) => ValueTask.FromResult(HttpRouteResponse.Text("")));
                if (value.EndsWith('*') || value.EndsWith('/'))
                {
                    throw new ArgumentException($"'{value}' is not a page path: no final '/' or '*'.", nameof(value));
                }
            }

            _webClientPath = value;
        }
    }

    private string? _webClientPath;

    /// <summary>
    /// The application's own HTTP routes, served next to <c>/</c> and <c>/ws</c> with the handshake's limits and
    /// timeouts (see <see cref="HttpRouteTable"/>). Empty by default: other paths get <c>404</c>.
    /// </summary>
    public HttpRouteTable Routes => _routes;

    private HttpRouteTable _routes = new();

    /// <summary>
    /// Subprotocols the server speaks, in order of preference; the first one a client offers is chosen.
    /// Empty by default: no subprotocol is negotiated.
    /// </summary>
    public IList<string> SubProtocols => _subProtocols;

    private List<string> _subProtocols = [];

    /// <summary>
    /// Negotiates permessage-deflate (RFC 7692) with clients that offer it (every browser and Dart client does),
    /// within these limits: <see cref="System.Net.WebSockets.WebSocketDeflateOptions.ServerMaxWindowBits"/> and
    /// <see cref="System.Net.WebSockets.WebSocketDeflateOptions.ServerContextTakeover"/> for the server's own
    /// compression, <see cref="System.Net.WebSockets.WebSocketDeflateOptions.ClientMaxWindowBits"/> and
    /// <see cref="System.Net.WebSockets.WebSocketDeflateOptions.ClientContextTakeover"/> for what it asks of the
    /// client. Null (the default): offers are declined and connections run uncompressed, which is always valid.
    /// </summary>
    /// <remarks>
    /// Compression costs memory per connection (zlib keeps up to about 300 KiB per direction with a 15-bit
    /// window and context takeover; less with smaller windows or without takeover) and CPU per message; it
    /// pays for large, repetitive text over slow links. Compressing secrets next to attacker-chosen text can
    /// leak them (CRIME/BREACH), hence the name, as in the BCL. The BCL does the compression.
    /// </remarks>
    public System.Net.WebSockets.WebSocketDeflateOptions? DangerousDeflateOptions { get; set; }

    /// <summary>A copy the server keeps, checked as a whole.</summary>
    /// <exception cref="ArgumentException">A subprotocol name is not an HTTP token.</exception>
    internal LocalWebSocketServerOptions Snapshot()
    {
        foreach (var protocol in _subProtocols)
        {
            if (!OptionGuards.IsHttpToken(protocol))
            {
                throw new ArgumentException($"'{protocol}' is not a valid subprotocol name.", nameof(SubProtocols));
            }
        }

        var clone = (LocalWebSocketServerOptions)MemberwiseClone();
        clone._details = (JsonObject)_details.DeepClone();
        clone._subProtocols = [.. _subProtocols];
        clone._routes = _routes.Clone();
        clone._mdnsInterfaces = [.. _mdnsInterfaces];
        clone._allowedOrigins = [.. _allowedOrigins];
        if (DangerousDeflateOptions is { } deflate)
        {
            clone.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions
            {
                ClientMaxWindowBits = deflate.ClientMaxWindowBits,
                ClientContextTakeover = deflate.ClientContextTakeover,
                ServerMaxWindowBits = deflate.ServerMaxWindowBits,
                ServerContextTakeover = deflate.ServerContextTakeover,
            };
        }

        return clone;
    }
}
