using System.Diagnostics;
using System.Diagnostics.Metrics;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Server;

// Metrics and traces. The counters are those of GetStatistics(), read by observable instruments only when a
// listener collects: a message costs nothing more than it did. The handshake histogram and span are recorded
// once per upgrade, and only while someone listens.
public sealed partial class LocalWebSocketServer
{
    private Histogram<double> _handshakeDuration = null!;

    /// <summary>This server's meter (<see cref="LocalWebSocketTelemetry.Name"/>), disposed with the server.</summary>
    internal Meter Meter { get; private set; } = null!;

    private void CreateInstruments()
    {
        var meter = Meter = Telemetry.CreateMeter(_options.MeterFactory);
        meter.CreateObservableUpDownCounter(
            "localwebsocket.server.active_connections", () => (long)ClientCount, "{connection}", "WebSocket clients connected now.");
        meter.CreateObservableCounter(
            "localwebsocket.server.connections", () => Counters.Snapshot(0, 0).ClientsJoined, "{connection}", "WebSocket clients that joined.");
        meter.CreateObservableCounter("localwebsocket.server.rejected_connections", Rejections, "{connection}",
            "Connections and upgrades refused, by error.type: max_connections, per_ip_limit, rate_limited, origin, authentication, validation, handshake_timeout, tls.");
        meter.CreateObservableCounter("localwebsocket.server.messages", () => Directions(s => s.MessagesReceived, s => s.MessagesSent), "{message}",
            "Messages received from clients and written to clients, by network.io.direction.");
        meter.CreateObservableCounter("localwebsocket.server.io", () => Directions(s => s.BytesReceived, s => s.BytesSent), "By",
            "Payload bytes received from clients and written to clients, by network.io.direction.");
        meter.CreateObservableCounter(
            "localwebsocket.server.dropped_messages", () => Counters.Snapshot(0, 0).MessagesDropped, "{message}", "Messages a full send queue dropped.");
        meter.CreateObservableCounter(
            "localwebsocket.server.slow_consumer_closes", () => Counters.Snapshot(0, 0).SlowClientsDisconnected, "{connection}",
            "Clients closed because their send queue was full.");
        meter.CreateObservableCounter(
            "localwebsocket.server.details_requests", () => Counters.Snapshot(0, 0).DetailsRequests, "{request}", "GET / requests answered.");
        _handshakeDuration = meter.CreateHistogram(
            "localwebsocket.server.handshake.duration", "s", "How long an upgrade took, from its request to its 101 (by error.type when refused).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Telemetry.DurationBuckets });
    }

    private IEnumerable<Measurement<long>> Rejections()
    {
        var statistics = Counters.Snapshot(0, 0);
        return
        [
            Rejection(statistics.MaxConnectionsRejections, "max_connections"),
            Rejection(statistics.PerIpConnectionLimitRejections, "per_ip_limit"),
            Rejection(statistics.HandshakesRateLimited, "rate_limited"),
            Rejection(statistics.OriginRejections, "origin"),
            Rejection(statistics.AuthenticationFailures, "authentication"),
            Rejection(statistics.ClientsRefused, "validation"),
            Rejection(statistics.HandshakeTimeouts, "handshake_timeout"),
            Rejection(statistics.TlsHandshakeFailures, "tls"),
        ];

        static Measurement<long> Rejection(long count, string reason) => new(count, new KeyValuePair<string, object?>("error.type", reason));
    }

    private IEnumerable<Measurement<long>> Directions(Func<ServerStatistics, long> received, Func<ServerStatistics, long> sent)
    {
        var statistics = Counters.Snapshot(0, 0);
        return [new(received(statistics), Telemetry.Received), new(sent(statistics), Telemetry.Sent)];
    }

    /// <summary>The span of one upgrade, or null when nobody listens.</summary>
    private static Activity? StartHandshakeActivity(WebSocketUpgradeRequest request)
    {
        var activity = Telemetry.Source.StartActivity(LocalWebSocketTelemetry.ServerHandshakeActivity, ActivityKind.Server);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("client.address", request.RemoteEndPoint.Address.ToString());
            activity.SetTag("client.port", request.RemoteEndPoint.Port);
        }

        return activity;
    }

    /// <summary>Ends an upgrade's measurements: its span (when there is one) and its duration.</summary>
    private void EndHandshake(Activity? activity, long startedAt, ConnectedClient? client, string? errorType)
    {
        if (errorType is not null)
        {
            activity?.SetTag("error.type", errorType);
            activity?.SetStatus(ActivityStatusCode.Error);
        }
        else if (client is not null)
        {
            activity?.SetTag("localwebsocket.client.id", client.Id);
        }

        activity?.Dispose();
        if (_handshakeDuration.Enabled)
        {
            var elapsed = Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
            if (errorType is null)
            {
                _handshakeDuration.Record(elapsed);
            }
            else
            {
                _handshakeDuration.Record(elapsed, new KeyValuePair<string, object?>("error.type", errorType));
            }
        }
    }
}
