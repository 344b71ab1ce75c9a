using System.Diagnostics;
using System.Diagnostics.Metrics;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Hosting;
using LocalWebSocket.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace LocalWebSocket.Tests.Diagnostics;

/// <summary>
/// The Meter and ActivitySource named LocalWebSocket, read the way a metrics pipeline reads them. Every test
/// gets meters of its own (the server's, or a meter factory's), so that tests running at once do not mix.
/// </summary>
public sealed class TelemetryTests
{
    private static IMeterFactory NewMeterFactory() => new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    /// <summary>The sum of a counter's measurements, of those whose tag has this value (null: that lack the tag) when a tag is named.</summary>
    private static long Sum(MetricCollector<long> collector, string? tag = null, object? value = null) =>
        collector.GetMeasurementSnapshot()
            .Where(m => tag is null || (m.Tags.TryGetValue(tag, out var v) ? Equals(v, value) : value is null))
            .Sum(m => m.Value);

    /// <summary>The last value each tag combination of an observable instrument reported.</summary>
    private static long Observed(MetricCollector<long> collector, string? tag = null, string? value = null)
    {
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot(clear: true)
            .Where(m => tag is null || (m.Tags.TryGetValue(tag, out var v) && Equals(v, value)))
            .Select(m => m.Value)
            .LastOrDefault();
    }

    [Fact]
    public async Task A_servers_instruments_report_its_statistics_and_its_handshakes()
    {
        await using var server = await TestServers.StartAsync(o => o.ClientValidator = new RequiredDetailValidator("name"));
        using var active = new MetricCollector<long>(server.Meter, "localwebsocket.server.active_connections");
        using var opened = new MetricCollector<long>(server.Meter, "localwebsocket.server.connections");
        using var refused = new MetricCollector<long>(server.Meter, "localwebsocket.server.rejected_connections");
        using var messages = new MetricCollector<long>(server.Meter, "localwebsocket.server.messages");
        using var bytes = new MetricCollector<long>(server.Meter, "localwebsocket.server.io");
        using var handshakes = new MetricCollector<double>(server.Meter, "localwebsocket.server.handshake.duration");

        await using var ann = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None, Details = { ["name"] = "ann" } });
        await using var bob = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None, Details = { ["name"] = "bob" } });
        await using var nameless = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var bobGot = new Probe<WebSocketMessage>();
        bob.MessageReceived += (_, m) => bobGot.Add(m);
        await ann.ConnectAsync(server.WebSocketUrl).Within();
        await bob.ConnectAsync(server.WebSocketUrl).Within();
        var left = new Probe<ConnectionState>();
        nameless.StateChanged += (_, e) => left.Add(e.State);
        await nameless.ConnectAsync(server.WebSocketUrl).Within();
        await left.WaitUntilAsync(states => states[^1] == ConnectionState.Disconnected);
        await TestServers.UntilAsync(() => server.Clients.Count == 2, "two clients joined");
        await ann.SendAsync("12345");
        await ann.SendAsync("678");
        await bobGot.WaitForCountAsync(2);
        await TestServers.UntilAsync(() => server.GetStatistics().MessagesSent == 2, "both messages written");

        var statistics = server.GetStatistics();
        Assert.Equal(2, Observed(active));
        Assert.Equal(statistics.ClientsJoined, Observed(opened));
        Assert.Equal(1, Observed(refused, "error.type", "validation"));
        Assert.Equal(0, Observed(refused, "error.type", "authentication"));
        Assert.Equal(2, Observed(messages, "network.io.direction", "receive"));
        Assert.Equal(2, Observed(messages, "network.io.direction", "transmit"));
        Assert.Equal(8, Observed(bytes, "network.io.direction", "receive"));
        var durations = handshakes.GetMeasurementSnapshot();
        Assert.Equal(3, durations.Count);
        Assert.All(durations, d => Assert.InRange(d.Value, 0, TestServers.Timeout.TotalSeconds));
        Assert.Single(durations, d => d.Tags.TryGetValue("error.type", out var type) && (string?)type == "validation");
    }

    [Fact]
    public async Task A_server_handshake_and_a_client_connect_are_spans_and_a_failed_connect_says_why()
    {
        var stopped = new Probe<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LocalWebSocketTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        await using var unlucky = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var closedPort = new Uri($"ws://127.0.0.1:{await FreePortAsync()}/ws");

        await client.ConnectAsync(server.WebSocketUrl).Within();
        await Assert.ThrowsAsync<LocalWebSocketException>(() => unlucky.ConnectAsync(closedPort)).Within();
        var joined = Assert.Single(server.Clients);

        // Other tests run at once and their spans reach this listener too: ours are told by their tags.
        var handshake = (await WaitForAsync(stopped, a => a.OperationName == LocalWebSocketTelemetry.ServerHandshakeActivity
            && (string?)a.GetTagItem("localwebsocket.client.id") == joined.Id));
        var connect = await WaitForAsync(stopped, a => a.OperationName == LocalWebSocketTelemetry.ClientConnectActivity
            && (int?)a.GetTagItem("server.port") == server.Port);
        var failed = await WaitForAsync(stopped, a => a.OperationName == LocalWebSocketTelemetry.ClientConnectActivity
            && (int?)a.GetTagItem("server.port") == closedPort.Port);

        Assert.Equal(ActivityKind.Server, handshake.Kind);
        Assert.Equal(joined.RemoteEndPoint.Port, handshake.GetTagItem("client.port"));
        Assert.Equal(ActivityKind.Client, connect.Kind);
        Assert.Equal("127.0.0.1", connect.GetTagItem("server.address"));
        Assert.Equal(ActivityStatusCode.Unset, connect.Status);
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal(nameof(LocalWebSocketErrorCode.ConnectionFailed), failed.GetTagItem("error.type"));
    }

    private static async Task<Activity> WaitForAsync(Probe<Activity> stopped, Func<Activity, bool> match)
    {
        await stopped.WaitUntilAsync(activities => activities.Any(match));
        return stopped.Items.First(match);
    }

    private static async Task<int> FreePortAsync()
    {
        await using var probe = await TestServers.StartAsync();
        return probe.Port;
    }

    [Fact]
    public async Task A_clients_instruments_count_attempts_by_outcome_reconnects_connections_and_messages()
    {
        var meters = NewMeterFactory();
        using var attempts = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.client.connection_attempts");
        using var reconnects = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.client.reconnects");
        using var active = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.client.active_connections");
        using var messages = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.client.messages");
        using var durations = new MetricCollector<double>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.client.connect.duration");
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            MeterFactory = meters,
            ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(20)),
        });
        var got = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => got.Add(m);
        var states = new Probe<ConnectionState>();
        client.StateChanged += (_, e) => states.Add(e.State);

        await client.ConnectAsync(server.WebSocketUrl).Within();
        await client.SendAsync("echo me");
        await got.WaitForCountAsync(1);
        // The server goes away and comes back on the same port: the client reconnects by itself.
        await server.StopAsync();
        await states.WaitUntilAsync(s => s[^1] == ConnectionState.Reconnecting);
        await server.StartAsync();
        await states.WaitUntilAsync(s => s[^1] == ConnectionState.Reconnected);

        Assert.Equal(2, Sum(attempts, "error.type", null));
        // Every attempt is counted: the first connect and each reconnect attempt, failed or not.
        Assert.Equal(client.GetStatistics().ReconnectAttempts + 1, Sum(attempts));
        Assert.Equal(1, Sum(reconnects));
        Assert.Equal(1, Sum(active));
        Assert.Equal(1, Sum(messages, "network.io.direction", "transmit"));
        Assert.Equal(1, Sum(messages, "network.io.direction", "receive"));
        Assert.Equal(Sum(attempts), durations.GetMeasurementSnapshot().Count);
    }

    [Fact]
    public async Task Discovery_counts_its_probes_and_the_servers_it_finds()
    {
        var meters = NewMeterFactory();
        using var probes = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.discovery.probes");
        using var found = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.discovery.servers_found");
        await using var server = await TestServers.StartAsync();
        using var scanner = new ServerScanner(new ScannerOptions { Port = server.Port, MeterFactory = meters });

        Assert.NotNull(await scanner.ProbeAsync("127.0.0.1").Within());
        Assert.Null(await scanner.ProbeAsync("127.0.0.2").Within());

        Assert.Equal(2, Sum(probes, "localwebsocket.discovery.method", "scan"));
        Assert.Equal(1, Sum(found, "localwebsocket.discovery.method", "scan"));
    }

    [Fact]
    public async Task On_asp_net_core_the_hubs_meter_comes_from_the_apps_meter_factory()
    {
        await using var hub = await AspNetCoreHubHost.StartAsync(configure: null);
        var meters = hub.Services!.GetRequiredService<IMeterFactory>();
        using var active = new MetricCollector<long>(meters, LocalWebSocketTelemetry.Name, "localwebsocket.server.active_connections");
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });

        await client.ConnectAsync(hub.WebSocketUrl).Within();
        await TestServers.UntilAsync(() => hub.Server.Clients.Count == 1, "the client joined");

        Assert.Equal(1, Observed(active));
    }
}
