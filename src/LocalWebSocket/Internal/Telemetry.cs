using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace LocalWebSocket.Internal;

/// <summary>
/// The library's meters, instruments and activity source. Names follow the OpenTelemetry conventions where
/// some exist (<c>network.io.direction</c>, <c>error.type</c>, <c>server.address</c>, seconds for durations).
/// </summary>
/// <remarks>
/// A server's counters already exist (<see cref="Server.ServerCounters"/>): its instruments are observable, read
/// only when a listener collects, so they cost nothing per message. Clients and discovery add to counters on a
/// meter shared by everything made with the same <see cref="IMeterFactory"/> (or none): a load generator with
/// thousands of clients then has one set of instruments, not thousands. An instrument nobody listens to costs a
/// flag check per <see cref="Counter{T}.Add(T)"/>.
/// </remarks>
internal static class Telemetry
{
    private static readonly string? Version = typeof(Telemetry).Assembly.GetName().Version?.ToString(3);

    private static readonly Lazy<Meter> SharedMeter = new(() => new Meter(LocalWebSocketTelemetry.Name, Version));

    private static readonly ConditionalWeakTable<Meter, ClientInstruments> ClientSets = [];

    private static readonly ConditionalWeakTable<Meter, DiscoveryInstruments> DiscoverySets = [];

    public static readonly ActivitySource Source = new(LocalWebSocketTelemetry.Name, Version);

    public static readonly KeyValuePair<string, object?> Received = new("network.io.direction", "receive");

    public static readonly KeyValuePair<string, object?> Sent = new("network.io.direction", "transmit");

    /// <summary>A meter of its own for one server (disposed with it), from the app's factory when it gave one.</summary>
    public static Meter CreateMeter(IMeterFactory? factory) =>
        factory?.Create(new MeterOptions(LocalWebSocketTelemetry.Name) { Version = Version }) ?? new Meter(LocalWebSocketTelemetry.Name, Version);

    /// <summary>The meter clients and discovery share: the factory's, or the process's.</summary>
    private static Meter SharedFor(IMeterFactory? factory) =>
        factory?.Create(new MeterOptions(LocalWebSocketTelemetry.Name) { Version = Version }) ?? SharedMeter.Value;

    public static ClientInstruments ForClients(IMeterFactory? factory) =>
        ClientSets.GetValue(SharedFor(factory), static meter => new ClientInstruments(meter));

    public static DiscoveryInstruments ForDiscovery(IMeterFactory? factory) =>
        DiscoverySets.GetValue(SharedFor(factory), static meter => new DiscoveryInstruments(meter));

    /// <summary>What clients report.</summary>
    internal sealed class ClientInstruments(Meter meter)
    {
        public Counter<long> ConnectionAttempts { get; } = meter.CreateCounter<long>(
            "localwebsocket.client.connection_attempts", "{attempt}", "Connection attempts, first connects and reconnects, by error.type when they failed.");

        public Counter<long> Reconnects { get; } = meter.CreateCounter<long>(
            "localwebsocket.client.reconnects", "{reconnect}", "Connections re-established after one was lost.");

        public UpDownCounter<long> ActiveConnections { get; } = meter.CreateUpDownCounter<long>(
            "localwebsocket.client.active_connections", "{connection}", "Clients connected now.");

        public Counter<long> Messages { get; } = meter.CreateCounter<long>(
            "localwebsocket.client.messages", "{message}", "Messages sent and received, by network.io.direction.");

        public Counter<long> Bytes { get; } = meter.CreateCounter<long>(
            "localwebsocket.client.io", "By", "Payload bytes sent and received, by network.io.direction.");

        public Histogram<double> ConnectDuration { get; } = meter.CreateHistogram(
            "localwebsocket.client.connect.duration", "s", "How long a connection attempt took, by error.type when it failed.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    /// <summary>What scanners and mDNS browsers report.</summary>
    internal sealed class DiscoveryInstruments(Meter meter)
    {
        public Counter<long> Probes { get; } = meter.CreateCounter<long>(
            "localwebsocket.discovery.probes", "{probe}", "Hosts probed by a scan (GET /) and mDNS queries sent, by localwebsocket.discovery.method.");

        public Counter<long> ServersFound { get; } = meter.CreateCounter<long>(
            "localwebsocket.discovery.servers_found", "{server}", "Servers found (each new one once per scan or browse), by localwebsocket.discovery.method.");
    }

    public static readonly KeyValuePair<string, object?> Scan = new("localwebsocket.discovery.method", "scan");

    public static readonly KeyValuePair<string, object?> Mdns = new("localwebsocket.discovery.method", "mdns");

    /// <summary>Handshakes take milliseconds on a LAN and seconds when something is wrong.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>The <c>error.type</c> of a failure: the library's error code, else the exception's type.</summary>
    public static string ErrorType(Exception exception) =>
        exception is LocalWebSocketException typed ? typed.Code.ToString() : exception.GetType().FullName ?? "error";
}
