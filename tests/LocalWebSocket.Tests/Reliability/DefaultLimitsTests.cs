using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>Defaults that never refuse legitimate use, and refusals that say when to come back.</summary>
public sealed class DefaultLimitsTests
{
    [Fact]
    public async Task Two_hundred_connections_at_once_from_this_machine_are_all_accepted_with_default_options()
    {
        await using var server = await TestServers.StartAsync();
        var clients = Enumerable.Range(0, 200).Select(_ => new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None })).ToList();
        try
        {
            await Task.WhenAll(clients.Select(c => c.ConnectAsync(server.WebSocketUrl))).Within();

            Assert.All(clients, c => Assert.True(c.IsConnected));
            Assert.Equal(200, server.Clients.Count);
            var details = await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, RawConnection.StatusOf(details));
            var statistics = server.GetStatistics();
            Assert.Equal(0, statistics.PerIpConnectionLimitRejections + statistics.HandshakesRateLimited);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_classroom_behind_one_address_joins_and_rejoins_after_a_restart_with_per_address_limits_on()
    {
        // Loopback counted like a LAN address: 60 devices behind one NAT, as a school's guest network shows them.
        await using var server = await TestServers.StartAsync(o => o.PerIpLimitsApplyToLoopback = true);
        var pupils = Enumerable.Range(0, 60).Select(_ => new LocalWebSocketClient()).ToList();
        try
        {
            await Task.WhenAll(pupils.Select(c => c.ConnectAsync(server.WebSocketUrl))).Within();
            await server.StopAsync().Within();
            await server.StartAsync().Within();
            await TestServers.UntilAsync(() => server.Clients.Count == 60, "all 60 back after the restart");

            var statistics = server.GetStatistics();
            Assert.Equal(0, statistics.PerIpConnectionLimitRejections + statistics.HandshakesRateLimited);
        }
        finally
        {
            await Task.WhenAll(pupils.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_restart_brings_a_thousand_clients_with_the_default_policy_back_within_its_delays()
    {
        await using var server = await TestServers.StartAsync();
        var clients = Enumerable.Range(0, 1000).Select(_ => new LocalWebSocketClient()).ToList();
        try
        {
            foreach (var batch in clients.Chunk(100))
            {
                await Task.WhenAll(batch.Select(c => c.ConnectAsync(server.WebSocketUrl))).Within();
            }

            await server.StopAsync().Within();
            var stopped = System.Diagnostics.Stopwatch.StartNew();
            await server.StartAsync().Within();
            // Both sides: a client joins the server just before it reads its 101, so the server's count comes first.
            await TestServers.UntilAsync(() => server.Clients.Count == 1000 && clients.All(c => c.IsConnected), "all 1,000 back");

            // The default policy waits at most 1 s before a first attempt (full jitter over 1 s): one round of
            // attempts, none refused.
            Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(10), $"took {stopped.Elapsed}");
            var statistics = server.GetStatistics();
            Assert.Equal(0, statistics.RequestsRejected);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task Every_429_and_503_says_when_to_come_back()
    {
        await using var perAddress = await TestServers.StartAsync(o =>
        {
            o.PerIpLimitsApplyToLoopback = true;
            o.HandshakesPerSecondPerIp = 1;
        });
        var statuses = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await RawConnection.ExchangeAsync(perAddress.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        }

        await using var full = await TestServers.StartAsync(o => o.MaxConnections = 1);
        await using var holder = await RawConnection.OpenAsync(full.Port);
        await TestServers.UntilAsync(() => full.GetStatistics().OpenConnections == 1, "the one connection open");
        var unavailable = await RawConnection.ExchangeAsync(full.Port, RawConnection.Upgrade());

        var refused = statuses.Where(r => RawConnection.StatusOf(r) == 429).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Matches(@"\r\nRetry-After: [1-9]\d*\r\n", r));
        Assert.Equal(503, RawConnection.StatusOf(unavailable));
        Assert.Contains("\r\nRetry-After: 2\r\n", unavailable, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_client_treats_a_busy_server_as_transient_and_never_tries_before_its_Retry_After()
    {
        var clock = new ManualTimeProvider();
        await using var server = await TestServers.StartAsync(o => o.MaxConnections = 1);
        var occupant = new LocalWebSocketClient();
        await occupant.ConnectAsync(server.WebSocketUrl).Within();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            TimeProvider = clock,
            ReconnectOnFirstConnect = true,
            ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(100)),
        });
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        var connecting = client.ConnectAsync(server.WebSocketUrl);
        await clock.TimerCreated.WaitUntilAsync(t => t.Contains(TimeSpan.FromSeconds(2)));
        var waiting = client.GetStatistics();
        var accepted = server.GetStatistics().ConnectionsAccepted;
        await occupant.DisposeAsync();
        await TestServers.UntilAsync(() => server.GetStatistics().OpenConnections == 0, "the occupant gone");
        clock.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(connecting.IsCompleted);
        Assert.Equal(accepted, server.GetStatistics().ConnectionsAccepted);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        await connecting.Within();

        Assert.True(client.IsConnected);
        Assert.Equal(clock.GetUtcNow(), waiting.NextAttemptAt);
        Assert.Equal(1, server.GetStatistics().MaxConnectionsRejections);
    }

    [Fact]
    public async Task A_busy_refusal_surfaces_as_ServerBusy_with_its_status_and_Retry_After()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxConnections = 1);
        await using var occupant = new LocalWebSocketClient();
        await occupant.ConnectAsync(server.WebSocketUrl).Within();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(server.WebSocketUrl)).Within();

        Assert.Equal(LocalWebSocketErrorCode.ServerBusy, error.Code);
        Assert.Equal(503, error.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), error.RetryAfter);
        Assert.Contains("Too many connections", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reconnecting_is_told_once_the_first_attempt_has_its_time()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromSeconds(30)) });
        var seen = new TaskCompletionSource<DateTimeOffset?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, e) =>
        {
            if (e.State == ConnectionState.Reconnecting)
            {
                seen.TrySetResult(client.GetStatistics().NextAttemptAt);
            }
        };
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await server.StopAsync().Within();

        Assert.NotNull(await seen.Task.Within());
    }
}
