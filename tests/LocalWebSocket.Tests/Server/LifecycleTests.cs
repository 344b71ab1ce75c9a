using System.Net.Sockets;
using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Starting_twice_or_stopping_a_stopped_server_is_a_clear_error()
    {
        await using var server = await TestServers.StartAsync();

        var twice = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        await server.StopAsync();
        var stopped = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StopAsync());

        Assert.Contains("already running", twice.Message, StringComparison.Ordinal);
        Assert.Contains("not running", stopped.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => server.Port);
    }

    [Fact]
    public async Task Port_zero_exposes_the_real_port_and_urls()
    {
        await using var server = await TestServers.StartAsync();

        Assert.NotEqual(0, server.Port);
        Assert.Equal(new Uri($"ws://127.0.0.1:{server.Port}/ws"), server.WebSocketUrl);
        Assert.Equal(new Uri($"http://127.0.0.1:{server.Port}/"), server.Address);
    }

    [Fact]
    public async Task Ipv6_loopback_and_dual_mode_wildcard_work()
    {
        await using var v6 = await TestServers.StartAsync(o => o.Host = "::1");
        await using var client = new LocalWebSocketClient();
        await client.ConnectAsync($"ws://[::1]:{v6.Port}/ws").Within();
        Assert.True(client.IsConnected);

        await using var anyV4 = await TestServers.StartAsync(o => o.Host = "0.0.0.0");
        await using var toAnyV4 = new LocalWebSocketClient();
        await toAnyV4.ConnectAsync($"ws://127.0.0.1:{anyV4.Port}/ws").Within();
        Assert.True(toAnyV4.IsConnected);
        Assert.NotEqual("0.0.0.0", anyV4.WebSocketUrl.Host);

        await using var any = await TestServers.StartAsync(o => o.Host = "::");
        await using var viaV4 = new LocalWebSocketClient();
        await viaV4.ConnectAsync($"ws://127.0.0.1:{any.Port}/ws").Within();
        Assert.True(viaV4.IsConnected);
    }

    [Fact]
    public async Task Stop_closes_every_client_with_1001_and_restart_on_the_same_port_works_at_once()
    {
        await using var server = await TestServers.StartAsync();
        var port = server.Port;
        var clients = Enumerable.Range(0, 5).Select(_ => new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None })).ToArray();
        var closes = new Probe<ConnectionStateChangedEventArgs>();
        foreach (var client in clients)
        {
            client.StateChanged += (_, e) => { if (e.State == ConnectionState.Disconnected) closes.Add(e); };
            await client.ConnectAsync(server.WebSocketUrl).Within();
        }

        var stopped = new TaskCompletionSource();
        server.Stopped += (_, _) => stopped.TrySetResult();
        await server.StopAsync().Within();

        await stopped.Task.Within();
        var seen = await closes.WaitForCountAsync(5);
        Assert.All(seen, e => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, e.CloseStatus));
        Assert.Empty(server.Clients);
        Assert.False(server.IsRunning);

        // Same instance, same port, right away.
        var restart = new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = port };
        await using var again = new LocalWebSocketServer(restart);
        await again.StartAsync().Within();
        await again.StopAsync().Within();
        await server.StartAsync().Within();
        Assert.Equal(port, server.Port);
        await clients[0].ConnectAsync(server.WebSocketUrl).Within();
        Assert.True(clients[0].IsConnected);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Running_changes_stream_reports_each_start_and_stop()
    {
        await using var server = new LocalWebSocketServer(new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0 });
        await using var changes = server.RunningChanges.GetAsyncEnumerator();
        var started = new Probe<bool>();
        server.Started += (_, _) => started.Add(true);
        server.Stopped += (_, _) => started.Add(false);

        await server.StartAsync();
        await server.StopAsync();
        await server.StartAsync();
        await server.DisposeAsync();

        var seen = new List<bool>();
        while (await changes.MoveNextAsync().AsTask().Within())
        {
            seen.Add(changes.Current);
        }

        Assert.Equal([true, false, true, false], seen);
        Assert.Equal(seen, started.Items);
    }

    [Fact]
    public async Task Stop_waits_for_a_client_that_never_answers_the_close_only_until_the_close_timeout()
    {
        var clock = new ObservedFakeTime();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.CloseTimeout = TimeSpan.FromSeconds(10);
            o.TimeProvider = clock;
        });
        await using var silent = await RawConnection.OpenAsync(server.Port);
        await silent.SendAsync(RawConnection.Upgrade());
        await silent.ReadHeadAsync();
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the silent client joined");

        var stopping = server.StopAsync();
        await clock.WaitForArmedAsync(TimeSpan.FromSeconds(10));
        Assert.False(stopping.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(10));
        await stopping.Within();

        Assert.Empty(server.Clients);
    }

    [Fact]
    public void Server_client_and_scanner_share_their_defaults_from_one_place()
    {
        var server = new LocalWebSocketServerOptions();
        var client = new LocalWebSocket.Client.LocalWebSocketClientOptions();
        var scanner = new LocalWebSocket.Discovery.ScannerOptions();

        Assert.Equal(LocalWebSocketDefaults.Port, server.Port);
        Assert.Equal(LocalWebSocketDefaults.Port, scanner.Port);
        Assert.All(new[] { server.MaxMessageSize, client.MaxMessageSize }, size => Assert.Equal(LocalWebSocketDefaults.MaxMessageSize, size));
        Assert.All(new[] { server.StreamBufferCapacity, client.StreamBufferCapacity }, capacity => Assert.Equal(LocalWebSocketDefaults.StreamBufferCapacity, capacity));
        Assert.All(new[] { server.KeepAliveInterval, client.KeepAliveInterval }, interval => Assert.Equal(LocalWebSocketDefaults.KeepAliveInterval, interval));
        Assert.All(new[] { server.KeepAliveTimeout, client.KeepAliveTimeout }, timeout => Assert.Equal(LocalWebSocketDefaults.KeepAliveTimeout, timeout));
        Assert.All(new[] { server.CloseTimeout, client.CloseTimeout }, timeout => Assert.Equal(LocalWebSocketDefaults.CloseTimeout, timeout));
    }

    [Fact]
    public async Task The_options_a_running_server_shows_are_a_copy_that_changes_nothing()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);

        var shown = server.Options;
        shown.Routing = RoutingMode.Echo;
        shown.AllowedOrigins.Add("http://evil.example");
        shown.Details["name"] = "changed";

        Assert.NotSame(shown, server.Options);
        Assert.Equal(RoutingMode.Broadcast, server.Options.Routing);
        Assert.Empty(server.Options.AllowedOrigins);
        Assert.False(server.Details.ContainsKey("name"));
    }

    [Fact]
    public async Task Binding_a_port_in_use_throws_a_socket_exception()
    {
        await using var first = await TestServers.StartAsync();
        await using var second = new LocalWebSocketServer(new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = first.Port });

        await Assert.ThrowsAsync<SocketException>(() => second.StartAsync());
        Assert.False(second.IsRunning);
    }

    [Fact]
    public async Task Abrupt_reset_of_one_client_leaves_the_others_working()
    {
        await using var server = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var a = new LocalWebSocketClient();
        await using var b = new LocalWebSocketClient();
        var got = new Probe<string>();
        b.MessageReceived += (_, m) => got.Add(m.Text);
        await a.ConnectAsync(server.WebSocketUrl).Within();
        await b.ConnectAsync(server.WebSocketUrl).Within();

        var victim = await RawConnection.OpenAsync(server.Port);
        await victim.SendAsync(RawConnection.Upgrade());
        await victim.ReadHeadAsync();
        // Linger 0 turns close into a TCP reset.
        victim.Socket.LingerState = new LingerOption(true, 0);
        victim.Socket.Close();

        var gone = (await left.WaitForCountAsync(1))[0];
        Assert.Null(gone.CloseStatus);
        await a.SendAsync("after the reset");
        Assert.Equal("after the reset", (await got.WaitForCountAsync(1))[0]);
        Assert.Equal(2, server.Clients.Count);
    }

    [Fact]
    public async Task Keepalive_drops_a_peer_that_stops_answering_pings_and_keeps_a_live_one()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            // Long enough for a live peer to answer on a loaded 2-core machine, short enough to see a dead one go.
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var live = new LocalWebSocketClient();
        await live.ConnectAsync(server.WebSocketUrl).Within();

        // Completes the handshake, then never reads: the pings go unanswered, like a peer whose Wi-Fi vanished.
        await using var vanished = await RawConnection.OpenAsync(server.Port);
        await vanished.SendAsync(RawConnection.Upgrade());
        await vanished.ReadHeadAsync();

        // The BCL's keep-alive runs on its own timers (no clock to fake): the wait is bounded by the probe's.
        var gone = (await left.WaitForCountAsync(1))[0];

        Assert.Null(gone.CloseStatus);
        Assert.True(live.IsConnected);
        Assert.Single(server.Clients);
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_ends_streams()
    {
        var server = await TestServers.StartAsync();
        var reading = Task.Run(async () =>
        {
            var count = 0;
            await foreach (var _ in server.Messages)
            {
                count++;
            }

            return count;
        });

        await server.DisposeAsync();
        await server.DisposeAsync();

        Assert.Equal(0, await reading.Within());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => server.StartAsync());
    }

    [Fact]
    public void Bad_option_values_are_refused_at_once()
    {
        var options = new LocalWebSocketServerOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Port = 70000);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Port = -1);
        Assert.Throws<ArgumentException>(() => options.Host = "not-an-ip");
        Assert.Throws<ArgumentOutOfRangeException>(() => options.HandshakeTimeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxMessageSize = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Routing = (RoutingMode)42);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.KeepAliveInterval = TimeSpan.FromSeconds(-5));
        options.SubProtocols.Add("bad protocol");
        Assert.Throws<ArgumentException>(() => new LocalWebSocketServer(options));
    }
}
