using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Client;

/// <summary>The reconnecting client against real servers that go away and come back.</summary>
public sealed class ReconnectionTests
{
    private static readonly IReconnectPolicy Quick = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(50));

    private sealed class Watched : IAsyncDisposable
    {
        public Watched(LocalWebSocketClientOptions options)
        {
            Client = new LocalWebSocketClient(options);
            Client.StateChanged += (_, e) => States.Add(e);
            Client.MessageReceived += (_, m) => Received.Add(m.Text);
        }

        public LocalWebSocketClient Client { get; }

        public Probe<ConnectionStateChangedEventArgs> States { get; } = new();

        public Probe<string> Received { get; } = new();

        public Task WaitForStateAsync(ConnectionState state, int occurrence = 1) =>
            States.WaitUntilAsync(s => s.Count(e => e.State == state) >= occurrence);

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }

    [Fact]
    public async Task Client_reconnects_by_itself_when_the_server_restarts_and_messages_flow_again()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = Quick });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();
        await watched.Client.SendAsync("before");
        await watched.Received.WaitForCountAsync(1);

        await server.StopAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnecting);
        await server.StartAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnected);
        await watched.Client.SendAsync("after");

        Assert.Equal(["before", "after"], await watched.Received.WaitForCountAsync(2));
        var reconnecting = watched.States.Items.First(e => e.State == ConnectionState.Reconnecting);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, reconnecting.CloseStatus);
        Assert.Equal(
            [ConnectionState.Connecting, ConnectionState.Connected, ConnectionState.Reconnecting, ConnectionState.Reconnected],
            watched.States.Items.Select(e => e.State));
        var metrics = watched.Client.GetStatistics();
        Assert.Equal(2, metrics.Connects);
        Assert.Equal(1, metrics.SuccessfulReconnects);
        Assert.True(metrics.ReconnectAttempts >= 1);
        Assert.Equal(1, metrics.Disconnects);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, metrics.LastCloseStatus);
        Assert.True(watched.Client.IsConnected);
    }

    [Fact]
    public async Task Outbox_messages_arrive_in_order_once_after_the_after_connect_hook_on_every_reconnect()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.None);
        var atServer = new Probe<string>();
        server.MessageReceived += (_, e) => atServer.Add(e.Message.Text);
        var hookRuns = new Probe<int>();
        await using var watched = new Watched(new LocalWebSocketClientOptions
        {
            ReconnectPolicy = Quick,
            OfflineSendMode = OfflineSendMode.Queue,
            AfterConnect = async (context, token) =>
            {
                hookRuns.Add(context.Attempt);
                await context.SendAsync($"hello #{context.Attempt}", token);
            },
        });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();
        await atServer.WaitForCountAsync(1);

        await server.StopAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnecting);
        var queued = Enumerable.Range(1, 5).Select(i => watched.Client.SendAsync($"queued {i}").AsTask()).ToArray();
        Assert.Equal(5, watched.Client.GetStatistics().QueuedMessages);
        Assert.All(queued, t => Assert.False(t.IsCompleted));
        await server.StartAsync().Within();
        await Task.WhenAll(queued).Within();
        await watched.Client.SendAsync("live");

        var seen = await atServer.WaitForCountAsync(8);
        Assert.Equal(["hello #0", "hello #1", "queued 1", "queued 2", "queued 3", "queued 4", "queued 5", "live"], seen);
        Assert.Equal([0, 1], hookRuns.Items);
        Assert.Equal(0, watched.Client.GetStatistics().QueuedMessages);
    }

    [Fact]
    public async Task Queued_sends_fail_rather_than_vanish_when_the_client_disconnects_or_the_outbox_is_full()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromHours(1)),
            OfflineSendMode = OfflineSendMode.Queue,
            OutboxCapacity = 2,
        });
        var states = new Probe<ConnectionState>();
        client.StateChanged += (_, e) => states.Add(e.State);
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await server.StopAsync().Within();
        await states.WaitUntilAsync(s => s.Contains(ConnectionState.Reconnecting));

        var first = client.SendAsync("one").AsTask();
        var second = client.SendAsync("two").AsTask();
        var full = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.SendAsync("three").AsTask());
        await client.DisconnectAsync().Within();

        Assert.Equal(LocalWebSocketErrorCode.OutboxFull, full.Code);
        Assert.Equal(LocalWebSocketErrorCode.NotConnected, (await Assert.ThrowsAsync<LocalWebSocketException>(() => first)).Code);
        Assert.Equal(LocalWebSocketErrorCode.NotConnected, (await Assert.ThrowsAsync<LocalWebSocketException>(() => second)).Code);
        Assert.Equal(ConnectionState.Disconnected, client.State);
    }

    [Fact]
    public async Task Throw_mode_refuses_sends_while_reconnecting()
    {
        await using var server = await TestServers.StartAsync();
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromHours(1)) });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();
        await server.StopAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnecting);

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => watched.Client.SendAsync("x").AsTask());

        Assert.Equal(LocalWebSocketErrorCode.NotConnected, error.Code);
    }

    [Fact]
    public async Task Authentication_refusal_on_reconnect_stops_reconnecting()
    {
        var tokens = new SwitchableTokenAuthenticator("first");
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = tokens);
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = Quick, Details = { ["token"] = "first" } });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        tokens.Valid = "second";
        await server.StopAsync().Within();
        await server.StartAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Disconnected);

        var end = watched.States.Items[^1];
        Assert.Equal(LocalWebSocketErrorCode.AuthenticationFailed, end.Error!.Code);
        Assert.Equal(403, end.Error.StatusCode);
        Assert.Equal(1, watched.Client.GetStatistics().ReconnectAttempts);
        Assert.Equal(1, server.GetStatistics().AuthenticationFailures);
    }

    [Theory]
    [InlineData(1008)]
    [InlineData(3000)]
    public async Task Validation_refusal_never_reconnects(int code)
    {
        await using var server = await TestServers.StartAsync();
        server.ClientConnected += (_, e) => _ = e.Client.DisconnectAsync((WebSocketCloseStatus)code, "Client validation failed");
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = Quick });

        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();
        await watched.WaitForStateAsync(ConnectionState.Disconnected);

        Assert.Equal(LocalWebSocketErrorCode.ValidationFailed, watched.States.Items[^1].Error!.Code);
        Assert.Equal(0, watched.Client.GetStatistics().ReconnectAttempts);
        Assert.DoesNotContain(watched.States.Items, e => e.State == ConnectionState.Reconnecting);
    }

    [Fact]
    public async Task User_disconnect_never_reconnects()
    {
        await using var server = await TestServers.StartAsync();
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = Quick });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        await watched.Client.DisconnectAsync().Within();
        var marker = new LocalWebSocketClient();
        await marker.ConnectAsync(server.WebSocketUrl).Within();
        await marker.DisposeAsync();

        Assert.Equal(ConnectionState.Disconnected, watched.Client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, watched.States.Items[^1].CloseStatus);
        Assert.Equal(0, watched.Client.GetStatistics().ReconnectAttempts);
        Assert.Equal(2, server.GetStatistics().ClientsJoined);
    }

    [Fact]
    public async Task A_vanished_peer_is_detected_by_keepalive_and_the_client_reconnects()
    {
        await using var silent = new SilentWebSocketServer();
        await using var watched = new Watched(new LocalWebSocketClientOptions
        {
            KeepAliveInterval = TimeSpan.FromMilliseconds(200),
            KeepAliveTimeout = TimeSpan.FromMilliseconds(300),
            ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromHours(1)),
        });
        await watched.Client.ConnectAsync(silent.Url).Within();

        // The BCL's keep-alive runs on its own timers (no clock to fake): the wait is bounded by the probe's.
        await watched.WaitForStateAsync(ConnectionState.Reconnecting);

        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, watched.States.Items[^1].Error!.Code);
    }

    [Fact]
    public async Task Many_clients_dropped_at_once_spread_their_retries_with_jitter()
    {
        await using var server = await TestServers.StartAsync();
        var watched = Enumerable.Range(0, 20).Select(i => new Watched(new LocalWebSocketClientOptions
        {
            // Seeded randomness: the spread is the same on every run.
            ReconnectPolicy = ReconnectPolicy.FullJitter(TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(800), new Random(i).NextDouble),
        })).ToArray();
        foreach (var client in watched)
        {
            await client.Client.ConnectAsync(server.WebSocketUrl).Within();
        }

        await server.StopAsync().Within();
        foreach (var client in watched)
        {
            await client.WaitForStateAsync(ConnectionState.Reconnecting);
        }

        var due = watched.Select(w => w.Client.GetStatistics().NextAttemptAt ?? DateTimeOffset.MinValue).ToList();
        await server.StartAsync().Within();
        foreach (var client in watched)
        {
            await client.WaitForStateAsync(ConnectionState.Reconnected);
            await client.DisposeAsync();
        }

        Assert.DoesNotContain(DateTimeOffset.MinValue, due);
        Assert.True(due.Max() - due.Min() >= TimeSpan.FromMilliseconds(400), $"spread {due.Max() - due.Min()}");
        Assert.True(due.Distinct().Count() >= 18);
    }

    [Fact]
    public async Task Policy_gives_up_after_its_attempts_and_says_so()
    {
        var policy = new CountingPolicy(ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(20)).WithMaxAttempts(3));
        await using var server = await TestServers.StartAsync();
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = policy });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        await server.DisposeAsync();
        await watched.WaitForStateAsync(ConnectionState.Disconnected);

        var end = watched.States.Items[^1];
        Assert.Equal(LocalWebSocketErrorCode.ReconnectGaveUp, end.Error!.Code);
        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, Assert.IsType<LocalWebSocketException>(end.Error.InnerException).Code);
        Assert.Equal(3, watched.Client.GetStatistics().ReconnectAttempts);
        Assert.Equal(["gave up 3"], policy.Calls);
    }

    [Fact]
    public async Task Reconnect_now_skips_a_long_backoff_and_drops_a_live_connection_on_request()
    {
        await using var server = await TestServers.StartAsync();
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var watched = new Watched(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromHours(1)) });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        await server.StopAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnecting);
        await server.StartAsync().Within();
        await watched.Client.ReconnectNowAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnected);

        // A network change: the old connection may be a zombie, so it is dropped and replaced.
        await watched.Client.ReconnectNowAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnected, occurrence: 2);

        Assert.Equal(3, (await joined.WaitForCountAsync(3)).Count);
        Assert.True(watched.Client.IsConnected);
    }

    [Fact]
    public async Task The_request_factory_runs_before_every_connect_and_can_refresh_credentials()
    {
        var tokens = new SwitchableTokenAuthenticator("token-1");
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = tokens);
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        var calls = 0;
        await using var watched = new Watched(new LocalWebSocketClientOptions
        {
            ReconnectPolicy = Quick,
            Details = { ["name"] = "ann" },
            PrepareConnection = (request, _) =>
            {
                calls++;
                request.Details["token"] = tokens.Valid;
                request.Details["attempt"] = request.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return ValueTask.CompletedTask;
            },
        });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        tokens.Valid = "token-2";
        await server.StopAsync().Within();
        await server.StartAsync().Within();
        await watched.WaitForStateAsync(ConnectionState.Reconnected);

        var clients = await joined.WaitForCountAsync(2);
        Assert.Equal("0", clients[0].Details["attempt"]);
        Assert.NotEqual("0", clients[1].Details["attempt"]);
        Assert.All(clients, c => Assert.Equal("ann", c.Details["name"]));
        Assert.True(calls >= 2);
    }

    [Fact]
    public async Task First_connect_can_retry_by_the_policy_until_the_server_appears()
    {
        await using var server = await TestServers.StartAsync();
        var url = server.WebSocketUrl;
        await server.StopAsync().Within();
        var attempts = new Probe<int>();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            ReconnectPolicy = Quick,
            ReconnectOnFirstConnect = true,
            PrepareConnection = (request, _) =>
            {
                attempts.Add(request.Attempt);
                return ValueTask.CompletedTask;
            },
        });

        var connecting = client.ConnectAsync(url);
        await attempts.WaitForCountAsync(3);
        await server.StartAsync().Within();
        await connecting.Within();

        Assert.True(client.IsConnected);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task A_throwing_after_connect_hook_fails_the_first_connect_with_a_clear_error()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            AfterConnect = (_, _) => throw new InvalidOperationException("login failed"),
        });

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(server.WebSocketUrl));

        Assert.Equal(LocalWebSocketErrorCode.AfterConnectFailed, error.Code);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Equal(ConnectionState.Disconnected, client.State);
    }

    [Fact]
    public async Task Backoff_waits_on_the_injected_clock()
    {
        var clock = new ManualTimeProvider();
        await using var server = await TestServers.StartAsync();
        await using var watched = new Watched(new LocalWebSocketClientOptions
        {
            TimeProvider = clock,
            ReconnectPolicy = ReconnectPolicy.Exponential(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5)),
            // The connect timeout runs on the same clock: another due time than the backoff's, to tell them apart.
            ConnectTimeout = TimeSpan.FromSeconds(7),
        });
        await watched.Client.ConnectAsync(server.WebSocketUrl).Within();

        await server.StopAsync().Within();
        await clock.TimerCreated.WaitUntilAsync(t => t.Contains(TimeSpan.FromSeconds(10)));
        var waiting = watched.Client.GetStatistics();
        await server.StartAsync().Within();
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(ConnectionState.Reconnecting, watched.Client.State);
        clock.Advance(TimeSpan.FromSeconds(1));
        await watched.WaitForStateAsync(ConnectionState.Reconnected);

        Assert.Equal(1, waiting.CurrentAttempt);
        Assert.Equal(clock.GetUtcNow(), waiting.NextAttemptAt);
        Assert.Equal(clock.GetUtcNow(), watched.Client.GetStatistics().LastConnectedAt);
    }

    private sealed class SwitchableTokenAuthenticator(string valid) : IRequestAuthenticator
    {
        public volatile string Valid = valid;

        public IReadOnlyCollection<string> CredentialParameters => ["token"];

        public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(request.Query.TryGetValue("token", out var token) && token == Valid
                ? AuthenticationResult.Allow()
                : AuthenticationResult.InvalidCredentials("Invalid token"));
    }

    private sealed class CountingPolicy(IReconnectPolicy inner) : IReconnectPolicy
    {
        public List<string> Calls { get; } = [];

        public TimeSpan? NextDelay(in ReconnectContext context) => inner.NextDelay(context);

        public void OnReconnected(int attempts) => Calls.Add($"reconnected {attempts}");

        public void OnGaveUp(int attempts, LocalWebSocketException? lastError) => Calls.Add($"gave up {attempts}");
    }
}
