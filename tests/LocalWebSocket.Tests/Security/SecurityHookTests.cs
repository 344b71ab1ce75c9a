using System.Net;
using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Security;

/// <summary>The four hooks, their built-ins and the abuse limits, over real loopback sockets.</summary>
public sealed class SecurityHookTests
{
    private static LocalWebSocketClientOptions NoReconnect(params (string Key, string Value)[] details)
    {
        var options = new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None };
        foreach (var (key, value) in details)
        {
            options.Details[key] = value;
        }

        return options;
    }

    private static async Task<ConnectionStateChangedEventArgs> RefusedAfterUpgradeAsync(LocalWebSocketServer server, LocalWebSocketClientOptions options)
    {
        await using var client = new LocalWebSocketClient(options);
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        return states.Items[^1];
    }

    [Fact]
    public async Task Header_authenticator_answers_401_when_missing_403_when_wrong_and_can_ignore_case()
    {
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = new HeaderAuthenticator("Authorization", ["Bearer s3cret"], caseSensitive: false));

        var missing = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());
        var wrong = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade(extraHeaders: "Authorization: Bearer nope\r\n"));
        var twice = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade(extraHeaders: "Authorization: Bearer s3cret\r\nAuthorization: Bearer s3cret\r\n"));
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { Headers = { ["Authorization"] = "BEARER S3CRET" } });
        await client.ConnectAsync(server.WebSocketUrl).Within();

        Assert.Equal(401, RawConnection.StatusOf(missing));
        Assert.Contains("\"message\":\"Missing Authorization header\"", missing, StringComparison.Ordinal);
        Assert.Equal(403, RawConnection.StatusOf(wrong));
        Assert.Contains("\"message\":\"Invalid Authorization\"", wrong, StringComparison.Ordinal);
        Assert.Equal(403, RawConnection.StatusOf(twice));
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Ip_allow_list_matches_ipv4_ipv6_cidr_and_ipv4_mapped_addresses()
    {
        var list = new IpAllowList(["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"]);
        Assert.True(list.Contains(IPAddress.Parse("10.20.30.40")));
        Assert.True(list.Contains(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.True(list.Contains(IPAddress.Parse("fd12::5")));
        Assert.False(list.Contains(IPAddress.Parse("11.0.0.1")));
        Assert.False(list.Contains(IPAddress.Parse("fe80::1")));
        Assert.Throws<FormatException>(() => new IpAllowList(["10.0.0/8"]));
        Assert.Throws<FormatException>(() => new IpAllowList(["10.0.0.0/33"]));

        // A dual-mode listener sees IPv4 clients as ::ffff:127.0.0.1.
        await using var dual = await TestServers.StartAsync(o =>
        {
            o.Host = "::";
            o.RequestAuthenticator = new IpAllowList(["127.0.0.0/8"]);
        });
        await using var v4 = new LocalWebSocketClient(NoReconnect());
        await v4.ConnectAsync($"ws://127.0.0.1:{dual.Port}/ws").Within();
        var v6 = new LocalWebSocketClient(NoReconnect());
        var refused = await Assert.ThrowsAsync<LocalWebSocketException>(() => v6.ConnectAsync($"ws://[::1]:{dual.Port}/ws"));

        Assert.True(v4.IsConnected);
        Assert.Equal(403, refused.StatusCode);
        Assert.Equal("IP address not allowed", refused.Message);
    }

    [Fact]
    public async Task All_of_checks_in_order_and_the_first_failure_is_the_answer()
    {
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = new AllOfAuthenticator(
            new IpAllowList(["192.0.2.0/24"]),
            new QueryTokenAuthenticator(["t"])));

        // No token either: the IP check comes first, so the answer is its 403, not the token's 401.
        var response = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());

        Assert.Equal(403, RawConnection.StatusOf(response));
        Assert.Contains("IP address not allowed", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authentication_metadata_is_kept_on_the_client()
    {
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = new RoleAuthenticator());
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var client = new LocalWebSocketClient(NoReconnect(("user", "ann")));

        await client.ConnectAsync(server.WebSocketUrl).Within();

        Assert.Equal("admin", (await joined.WaitForCountAsync(1))[0].AuthenticationMetadata["role"]);
    }

    [Fact]
    public async Task A_refused_client_is_closed_with_1008_and_never_seen_in_the_client_set_or_events()
    {
        await using var server = await TestServers.StartAsync(o => o.ClientValidator = new AllOfClientValidator(
            new RequiredDetailValidator("username", minLength: 3, maxLength: 12, pattern: "[a-z]+"),
            new MaxClientsValidator(1)));
        var events = new Probe<string>();
        server.ClientConnected += (_, e) => events.Add("joined " + e.Client.Details["username"]);
        server.ClientDisconnected += (_, e) => events.Add("left " + e.Client.Details.GetValueOrDefault("username"));
        server.ClientsChanged += (_, e) => events.Add("changed " + e.Clients.Count);

        var noName = await RefusedAfterUpgradeAsync(server, NoReconnect());
        var badName = await RefusedAfterUpgradeAsync(server, NoReconnect(("username", "A!")));
        await using var first = new LocalWebSocketClient(NoReconnect(("username", "ann")));
        await first.ConnectAsync(server.WebSocketUrl).Within();
        var second = await RefusedAfterUpgradeAsync(server, NoReconnect(("username", "bob")));

        Assert.All(new[] { noName, badName, second }, refused =>
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, refused.CloseStatus);
            Assert.Equal("Client validation failed", refused.CloseDescription);
            Assert.Equal(LocalWebSocketErrorCode.ValidationFailed, refused.Error!.Code);
        });
        Assert.Equal(["changed 1", "joined ann"], events.Items.Order());
        Assert.Equal("ann", Assert.Single(server.Clients).Details["username"]);
        Assert.Equal(3, server.GetStatistics().ClientsRefused);
    }

    [Fact]
    public async Task Throwing_and_hanging_lifecycle_hooks_never_break_routing_and_disconnect_fires_once()
    {
        var handler = new UnrulyHandler();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.LifecycleHandler = handler;
            o.HookTimeout = TimeSpan.FromMilliseconds(200);
        });
        var joined = new Probe<ConnectedClient>();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var a = new LocalWebSocketClient(NoReconnect());
        await using var b = new LocalWebSocketClient(NoReconnect());
        var got = new Probe<string>();
        b.MessageReceived += (_, m) => got.Add(m.Text);
        await a.ConnectAsync(server.WebSocketUrl).Within();
        await b.ConnectAsync(server.WebSocketUrl).Within();

        await a.SendAsync("despite the hooks");
        Assert.Equal(["despite the hooks"], await got.WaitForCountAsync(1));
        await a.DisconnectAsync().Within();
        await b.DisconnectAsync().Within();

        // The disconnected hooks are queued before the events are raised.
        await left.WaitForCountAsync(2);
        var clients = await joined.WaitForCountAsync(2);
        await Task.WhenAll(clients.Select(c => c.HooksIdle)).Within();
        Assert.Equal(clients.Select(c => c.Id).Order(), handler.Disconnected.Items.Order());
        Assert.Empty(server.Clients);
        Assert.Equal(4, server.GetStatistics().HookFailures);
    }

    [Fact]
    public async Task Rate_limiter_drops_a_flood_without_slowing_other_clients()
    {
        await using var server = await TestServers.StartAsync(o => o.MessageValidator = new RateLimitValidator(10, TimeSpan.FromMinutes(1)));
        await using var flooder = new LocalWebSocketClient(NoReconnect(("who", "flooder")));
        await using var polite = new LocalWebSocketClient(NoReconnect(("who", "polite")));
        await using var reader = new LocalWebSocketClient(NoReconnect(("who", "reader")));
        var got = new Probe<string>();
        reader.MessageReceived += (_, m) => got.Add(m.Text);
        await flooder.ConnectAsync(server.WebSocketUrl).Within();
        await polite.ConnectAsync(server.WebSocketUrl).Within();
        await reader.ConnectAsync(server.WebSocketUrl).Within();

        for (var i = 0; i < 200; i++)
        {
            await flooder.SendAsync($"flood {i}");
        }

        for (var i = 0; i < 5; i++)
        {
            await polite.SendAsync($"polite {i}");
        }

        await got.WaitUntilAsync(items => items.Count(t => t.StartsWith("polite", StringComparison.Ordinal)) == 5);
        Assert.True(flooder.IsConnected);

        // The flooder's close is handled after its 200 messages: then every verdict is in.
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await flooder.DisconnectAsync().Within();
        await left.WaitForCountAsync(1);

        // Accepted messages may still be on their way to the reader: the verdicts are in, the deliveries follow.
        await got.WaitUntilAsync(items => items.Count(t => t.StartsWith("flood", StringComparison.Ordinal)) >= 10);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"flood {i}"), got.Items.Where(t => t.StartsWith("flood", StringComparison.Ordinal)));
        Assert.Equal(190, server.GetStatistics().MessagesRejected);
    }

    [Fact]
    public async Task A_rate_limiter_that_closes_sends_1008_and_the_client_does_not_reconnect()
    {
        await using var server = await TestServers.StartAsync(o => o.MessageValidator = new RateLimitValidator(3, TimeSpan.FromMinutes(1), MessageVerdict.Close));
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(20)) });
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync($"m{i}");
        }

        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, states.Items[^1].CloseStatus);
        Assert.Equal("Message rejected", states.Items[^1].CloseDescription);
        Assert.Equal(0, client.GetStatistics().ReconnectAttempts);
    }

    [Fact]
    public async Task A_validator_still_judging_when_the_connection_is_dropped_sees_its_token_cancelled()
    {
        var judging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var validator = new StuckValidator(judging, cancelled);
        await using var server = await TestServers.StartAsync(o =>
        {
            o.MessageValidator = validator;
            o.CloseTimeout = TimeSpan.FromMilliseconds(200);
        });
        await using var client = new LocalWebSocketClient(NoReconnect());
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await client.SendAsync("judge me");
        await judging.Task.Within();

        // The receive loop is inside the validator, so the client's close answer is never read: the close
        // timeout drops the connection, and that cancels the validator's token.
        var disconnect = server.Clients.Single().DisconnectAsync();

        await cancelled.Task.Within();
        await disconnect.Within();
        Assert.Empty(server.Clients);
        Assert.Equal(0, server.GetStatistics().OpenConnections);
    }

    private sealed class StuckValidator(TaskCompletionSource judging, TaskCompletionSource cancelled) : IMessageValidator
    {
        public async ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken)
        {
            judging.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
            }

            return MessageVerdict.Drop;
        }
    }

    [Fact]
    public async Task Size_and_json_shape_validators_drop_what_does_not_fit()
    {
        await using var server = await TestServers.StartAsync(o => o.MessageValidator = new AllOfMessageValidator(
            new MaxSizeValidator(64),
            new JsonShapeValidator(["type"])));
        var relayed = new Probe<string>();
        server.MessageReceived += (_, e) => relayed.Add(e.Message.ToString());
        await using var client = new LocalWebSocketClient(NoReconnect());
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await client.SendAsync("""{"text":"no type"}""");
        await client.SendAsync("not json");
        await client.SendAsync("[1,2]");
        await client.SendAsync(new byte[] { 1 }.AsMemory());
        await client.SendAsync($$"""{"type":"chat","text":"{{new string('x', 80)}}"}""");
        await client.SendAsync("""{"type":"chat"}""");

        Assert.Equal(["""{"type":"chat"}"""], await relayed.WaitForCountAsync(1));
        await relayed.WaitUntilAsync(_ => server.GetStatistics().MessagesRejected == 5);
    }

    [Fact]
    public async Task Origin_allow_list_refuses_foreign_browser_pages_but_not_apps()
    {
        await using var server = await TestServers.StartAsync(o => o.AllowedOrigins.Add("http://192.168.1.20:3000"));

        var foreign = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade(extraHeaders: "Origin: http://evil.example\r\n"));
        await using var good = await RawConnection.OpenAsync(server.Port);
        await good.SendAsync(RawConnection.Upgrade(extraHeaders: "Origin: http://192.168.1.20:3000\r\n"));
        var goodHead = await good.ReadHeadAsync();
        await using var app = new LocalWebSocketClient(NoReconnect());
        await app.ConnectAsync(server.WebSocketUrl).Within();

        Assert.Equal(403, RawConnection.StatusOf(foreign));
        Assert.StartsWith("HTTP/1.1 101", goodHead, StringComparison.Ordinal);
        Assert.True(app.IsConnected);
        Assert.Equal(1, server.GetStatistics().OriginRejections);
    }

    [Fact]
    public async Task Per_ip_connection_cap_answers_429_and_frees_up_when_connections_close()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.MaxConnectionsPerIp = 2;
            o.PerIpLimitsApplyToLoopback = true;
        });
        var first = await RawConnection.OpenAsync(server.Port);
        await first.SendAsync(RawConnection.Upgrade());
        await first.ReadHeadAsync();
        await using var second = await RawConnection.OpenAsync(server.Port);
        await second.SendAsync(RawConnection.Upgrade());
        await second.ReadHeadAsync();

        var third = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());
        await first.DisposeAsync();
        var left = new Probe<int>();
        server.ClientsChanged += (_, e) => left.Add(e.Clients.Count);
        left.Add(server.Clients.Count);
        await left.WaitUntilAsync(c => c[^1] == 1);

        // The refused third holds its slot until the server has seen it close, as any connection does.
        await TestServers.UntilAsync(() => server.GetStatistics().OpenConnections == 1, "only the second connection open");
        await using var fourth = await RawConnection.OpenAsync(server.Port);
        await fourth.SendAsync(RawConnection.Upgrade());

        Assert.Equal(429, RawConnection.StatusOf(third));
        Assert.StartsWith("HTTP/1.1 101", await fourth.ReadHeadAsync(), StringComparison.Ordinal);
        Assert.Equal(1, server.GetStatistics().PerIpConnectionLimitRejections);
    }

    [Fact]
    public async Task Handshake_rate_limit_answers_429_to_a_connection_storm()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.HandshakesPerSecondPerIp = 2;
            o.PerIpLimitsApplyToLoopback = true;
        });

        var statuses = new List<int>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add(RawConnection.StatusOf(await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")));
        }

        Assert.Contains(200, statuses);
        Assert.Contains(429, statuses);
        Assert.True(server.GetStatistics().HandshakesRateLimited >= 1);
    }

    [Fact]
    public async Task Idle_clients_are_closed_once_the_idle_timeout_has_passed_on_the_servers_clock_and_active_ones_kept()
    {
        var clock = new ObservedFakeTime();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.IdleTimeout = TimeSpan.FromSeconds(60);
            o.TimeProvider = clock;
        });
        await using var idle = new LocalWebSocketClient(NoReconnect());
        var idleStates = new Probe<ConnectionStateChangedEventArgs>();
        idle.StateChanged += (_, e) => idleStates.Add(e);
        var idleGot = new Probe<string>();
        idle.MessageReceived += (_, m) => idleGot.Add(m.Text);
        await using var chatty = new LocalWebSocketClient(NoReconnect());
        await idle.ConnectAsync(server.WebSocketUrl).Within();
        await chatty.ConnectAsync(server.WebSocketUrl).Within();
        await TestServers.UntilAsync(() => server.Clients.Count == 2, "both joined");
        // The idle check runs every quarter of the timeout, at most every second.
        await clock.WaitForArmedAsync(TimeSpan.FromSeconds(1));

        clock.Advance(TimeSpan.FromSeconds(30));
        await chatty.SendAsync("still here");
        // Relayed to the idle client: the server has handled it, and counts chatty as active from now.
        await idleGot.WaitForCountAsync(1);
        clock.Advance(TimeSpan.FromSeconds(31));
        await idleStates.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);

        Assert.Equal("Idle timeout", idleStates.Items[^1].CloseDescription);
        Assert.True(chatty.IsConnected);
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the idle client left");
        Assert.Equal(1, server.GetStatistics().IdleTimeouts);
    }

    private sealed class RoleAuthenticator : IRequestAuthenticator
    {
        public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(request.Query.GetValueOrDefault("user") == "ann"
                ? AuthenticationResult.Allow(new Dictionary<string, string> { ["role"] = "admin" })
                : AuthenticationResult.InvalidCredentials("Unknown user"));
    }

    [Fact]
    public async Task A_hook_that_hangs_is_cancelled_at_the_hook_timeout_on_the_servers_clock_and_the_next_one_runs()
    {
        var clock = new ObservedFakeTime();
        var handler = new HangingHandler();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.LifecycleHandler = handler;
            o.HookTimeout = TimeSpan.FromSeconds(30);
            o.TimeProvider = clock;
        });
        await using var client = new LocalWebSocketClient(NoReconnect());
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await handler.Started.WaitForCountAsync(1);
        await clock.WaitForArmedAsync(TimeSpan.FromSeconds(30));
        await client.DisconnectAsync().Within();

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Empty(handler.Cancelled.Items);
        Assert.Empty(handler.Disconnected.Items);
        clock.Advance(TimeSpan.FromSeconds(1));

        // Cancelled at 30 s, counted as a failure, and the disconnected hook, queued behind it, then runs.
        await handler.Cancelled.WaitForCountAsync(1);
        await handler.Disconnected.WaitForCountAsync(1);
        await TestServers.UntilAsync(() => server.GetStatistics().HookFailures == 1, "the hung hook counted as failed");
    }

    private sealed class HangingHandler : IClientLifecycleHandler
    {
        public Probe<string> Started { get; } = new();

        public Probe<string> Cancelled { get; } = new();

        public Probe<string> Disconnected { get; } = new();

        public async ValueTask OnConnectedAsync(ConnectedClient client, CancellationToken cancellationToken)
        {
            Started.Add(client.Id);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Cancelled.Add(client.Id);
                throw;
            }
        }

        public ValueTask OnDisconnectedAsync(ClientDisconnectedEventArgs disconnection, CancellationToken cancellationToken)
        {
            Disconnected.Add(disconnection.Client.Id);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class UnrulyHandler : IClientLifecycleHandler
    {
        public Probe<string> Disconnected { get; } = new();

        public ValueTask OnConnectedAsync(ConnectedClient client, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("hook bug");

        public async ValueTask OnDisconnectedAsync(ClientDisconnectedEventArgs disconnection, CancellationToken cancellationToken)
        {
            Disconnected.Add(disconnection.Client.Id);

            // Hangs past the hook timeout.
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
        }
    }
}
