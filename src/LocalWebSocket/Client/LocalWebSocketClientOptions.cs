using System.Net.WebSockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Client;

/// <summary>
/// Settings of a <see cref="LocalWebSocketClient"/>. Every setter checks its value and throws at once; the
/// client copies the options when it is created.
/// </summary>
public sealed class LocalWebSocketClientOptions
{
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);
    private TimeSpan _closeTimeout = LocalWebSocketDefaults.CloseTimeout;
    private TimeSpan _keepAliveInterval = LocalWebSocketDefaults.KeepAliveInterval;
    private TimeSpan _keepAliveTimeout = LocalWebSocketDefaults.KeepAliveTimeout;
    private int _maxMessageSize = LocalWebSocketDefaults.MaxMessageSize;
    private int _streamBufferCapacity = LocalWebSocketDefaults.StreamBufferCapacity;
    private Dictionary<string, string> _details = new(StringComparer.Ordinal);
    private Dictionary<string, string> _headers = new(StringComparer.OrdinalIgnoreCase);
    private List<string> _subProtocols = [];
    private List<IMessageInterceptor> _interceptors = [];
    private IReconnectPolicy _reconnectPolicy = Client.ReconnectPolicy.FullJitter(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
    private OfflineSendMode _offlineSendMode = OfflineSendMode.Throw;
    private int _outboxCapacity = 1024;
    private TimeProvider _timeProvider = TimeProvider.System;

    /// <summary>
    /// The client's details, sent as query parameters of the <c>/ws</c> request (form-encoded, merged over
    /// the URL's own parameters, as the Dart client does), e.g. <c>Details = { ["username"] = "alice" }</c>.
    /// </summary>
    public IDictionary<string, string> Details => _details;

    /// <summary>Extra HTTP headers of the upgrade request (e.g. <c>Authorization</c>).</summary>
    public IDictionary<string, string> Headers => _headers;

    /// <summary>Subprotocols to offer, in order of preference.</summary>
    public IList<string> SubProtocols => _subProtocols;

    /// <summary>Time a connection attempt may take, name resolution and handshake included. Default 10 s.</summary>
    public TimeSpan ConnectTimeout
    {
        get => _connectTimeout;
        set => _connectTimeout = OptionGuards.PositiveTime(value);
    }

    /// <summary>How long <see cref="LocalWebSocketClient.DisconnectAsync(CancellationToken)"/> waits for the server's close frame. Default 2 s.</summary>
    public TimeSpan CloseTimeout
    {
        get => _closeTimeout;
        set => _closeTimeout = OptionGuards.PositiveTime(value);
    }

    /// <summary>How often the client pings the server; zero turns pings off. Default 30 s.</summary>
    public TimeSpan KeepAliveInterval
    {
        get => _keepAliveInterval;
        set => _keepAliveInterval = OptionGuards.IntervalOrOff(value);
    }

    /// <summary>
    /// How long the client waits for a pong before it drops a connection whose peer vanished;
    /// <see cref="Timeout.InfiniteTimeSpan"/> pings without expecting pongs. Default 30 s.
    /// </summary>
    public TimeSpan KeepAliveTimeout
    {
        get => _keepAliveTimeout;
        set => _keepAliveTimeout = OptionGuards.PositiveTimeOrInfinite(value);
    }

    /// <summary>Largest message accepted from the server; larger closes the connection with 1009. Default 16 MiB.</summary>
    public int MaxMessageSize
    {
        get => _maxMessageSize;
        set => _maxMessageSize = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>Items buffered for each reader of the client's streams; a reader that falls further behind loses its oldest items. Default 1024.</summary>
    public int StreamBufferCapacity
    {
        get => _streamBufferCapacity;
        set => _streamBufferCapacity = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// When and how often to reconnect after the connection is lost. Default: exponential backoff with full
    /// jitter from 1 s up to 30 s, forever. <see cref="ReconnectPolicy.None"/> turns reconnection off.
    /// </summary>
    public IReconnectPolicy ReconnectPolicy
    {
        get => _reconnectPolicy;
        set => _reconnectPolicy = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// Whether <see cref="LocalWebSocketClient.ConnectAsync(Uri, CancellationToken)"/> also retries by the
    /// reconnect policy when the first attempt fails (it completes when a connection is made, or throws when
    /// the policy gives up). Default false: the first attempt's failure is thrown at once.
    /// </summary>
    public bool ReconnectOnFirstConnect { get; set; }

    /// <summary>
    /// Runs before every connection attempt, first and reconnects alike, and may change the URL, details or
    /// headers of that attempt: the place to refresh a token. An exception fails the attempt.
    /// </summary>
    public Func<ConnectionRequest, CancellationToken, ValueTask>? PrepareConnection { get; set; }

    /// <summary>
    /// Runs after every (re)connect, before queued messages go out; messages it sends go first. An exception
    /// closes the new connection and fails the attempt with <see cref="LocalWebSocketErrorCode.AfterConnectFailed"/>.
    /// </summary>
    public Func<AfterConnectContext, CancellationToken, ValueTask>? AfterConnect { get; set; }

    /// <summary>Middleware on sent and received messages, in order (see <see cref="IMessageInterceptor"/>).</summary>
    public IList<IMessageInterceptor> Interceptors => _interceptors;

    /// <summary>What sending does while not connected. Default <see cref="OfflineSendMode.Throw"/>.</summary>
    public OfflineSendMode OfflineSendMode
    {
        get => _offlineSendMode;
        set => _offlineSendMode = OptionGuards.Defined(value);
    }

    /// <summary>Most messages the outbox holds in <see cref="OfflineSendMode.Queue"/> mode. Default 1024.</summary>
    public int OutboxCapacity
    {
        get => _outboxCapacity;
        set => _outboxCapacity = OptionGuards.AtLeast(value, 1);
    }

    /// <summary>
    /// Where the client's meter (<see cref="LocalWebSocketTelemetry.Name"/>) comes from: an app's DI container
    /// passes its own. Null (the default): the meter every client of the process shares.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>The clock of backoff waits and metrics; inject a fake one in tests. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set => _timeProvider = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// Offers permessage-deflate compression with these parameters when set (off by default). Compressing
    /// secrets next to attacker-chosen text can leak them (CRIME/BREACH), hence the name, as in the BCL.
    /// </summary>
    public WebSocketDeflateOptions? DangerousDeflateOptions { get; set; }

    /// <summary>
    /// For <c>wss://</c> servers with a self-signed certificate: the SHA-256 fingerprint (64 hex digits; colons
    /// and case do not matter) the certificate must have; it is then accepted whatever its issuer or names,
    /// and any other certificate is refused. Take it from discovery (<see cref="Discovery.DiscoveredServer.CertificateFingerprint"/>)
    /// or from the server's owner. Null (the default): the platform's usual certificate validation.
    /// </summary>
    /// <exception cref="ArgumentException">Not a SHA-256 fingerprint.</exception>
    public string? PinnedCertificateFingerprint
    {
        get => _pinnedCertificateFingerprint;
        set
        {
            try
            {
                _pinnedCertificateFingerprint = value is null ? null : Security.TlsCertificates.NormalizeFingerprint(value);
            }
            catch (FormatException exception)
            {
                throw new ArgumentException(exception.Message, nameof(value), exception);
            }
        }
    }

    private string? _pinnedCertificateFingerprint;

    /// <summary>A checked copy the client keeps.</summary>
    /// <exception cref="ArgumentException">A header name or value, or a subprotocol, is not valid HTTP.</exception>
    internal LocalWebSocketClientOptions Snapshot()
    {
        foreach (var (name, value) in _headers)
        {
            if (!OptionGuards.IsHttpToken(name) || value.AsSpan().ContainsAny('\r', '\n', '\0'))
            {
                throw new ArgumentException($"Header '{name}' is not a valid HTTP header.", nameof(Headers));
            }
        }

        foreach (var protocol in _subProtocols)
        {
            if (!OptionGuards.IsHttpToken(protocol))
            {
                throw new ArgumentException($"'{protocol}' is not a valid subprotocol name.", nameof(SubProtocols));
            }
        }

        var clone = (LocalWebSocketClientOptions)MemberwiseClone();
        clone._details = new(_details, StringComparer.Ordinal);
        clone._headers = new(_headers, StringComparer.OrdinalIgnoreCase);
        clone._subProtocols = [.. _subProtocols];
        clone._interceptors = [.. _interceptors];
        return clone;
    }
}
