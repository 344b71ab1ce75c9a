using System.Net;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

/// <summary>The application's routes on the server's own listener: limits, timeouts and options (both hosts: HubBehaviourTests).</summary>
public sealed class HttpRouteTests
{
    private static ValueTask<HttpRouteResponse> Ok(HttpRouteRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(HttpRouteResponse.Text("ok " + request.Path));

    [Fact]
    public async Task A_kept_alive_connection_asks_a_route_then_the_details_then_upgrades()
    {
        await using var server = await TestServers.StartAsync(o => o.Routes.MapGet("/app", Ok));
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync("GET /app HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" + RawConnection.Upgrade());

        Assert.Equal(200, RawConnection.StatusOf(await connection.ReadHeadAsync()));
        Assert.Equal("ok /app", await connection.ReadStringAsync("ok /app".Length));
        var details = await connection.ReadHeadAsync();
        Assert.Equal(200, RawConnection.StatusOf(details));
        var length = int.Parse(details.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await connection.ReadStringAsync(length);
        Assert.Equal(101, RawConnection.StatusOf(await connection.ReadHeadAsync()));
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the upgraded connection joined");
    }

    [Fact]
    public async Task A_route_that_does_not_answer_within_the_handshake_timeout_gets_503_and_its_token_cancelled()
    {
        var clock = new ObservedFakeTime();
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServers.StartAsync(o =>
        {
            o.HandshakeTimeout = TimeSpan.FromSeconds(7);
            o.TimeProvider = clock;
            o.Routes.MapGet("/slow", async (_, token) =>
            {
                using var registration = token.Register(cancelled.SetResult);
                running.SetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
                return HttpRouteResponse.Text("never");
            });
        });
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
        await running.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(7));
        var response = await connection.ReadToEndAsync();

        Assert.Equal(503, RawConnection.StatusOf(response));
        await cancelled.Task.Within();
        Assert.Equal(1, server.GetStatistics().HandshakeTimeouts);
    }

    [Fact]
    public async Task A_route_request_with_a_body_is_refused_before_the_route_runs()
    {
        var ran = 0;
        await using var server = await TestServers.StartAsync(o => o.Routes.MapGet("/app", (request, token) =>
        {
            Interlocked.Increment(ref ran);
            return Ok(request, token);
        }));

        var response = await RawConnection.ExchangeAsync(server.Port, "GET /app HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");

        Assert.InRange(RawConnection.StatusOf(response), 400, 499);
        Assert.Equal(0, ran);
    }

    [Theory]
    [InlineData("app")]
    [InlineData("/app?x=1")]
    [InlineData("/a b")]
    [InlineData("/a*b")]
    [InlineData("/ws")]
    [InlineData("/")]
    [InlineData("/a\r\nX: y")]
    public void A_route_path_that_is_not_one_is_refused_when_mapped(string path)
    {
        var routes = new LocalWebSocketServerOptions().Routes;

        var error = Assert.Throws<ArgumentException>(() => routes.MapGet(path, Ok));

        Assert.Equal("path", error.ParamName);
        Assert.Equal(0, routes.Count);
    }

    [Fact]
    public void A_path_mapped_twice_is_refused_and_a_prefix_route_is_not_an_exact_one()
    {
        var routes = new LocalWebSocketServerOptions().Routes;
        routes.MapGet("/files/*", Ok);
        routes.MapGet("/files/", Ok);

        Assert.Throws<ArgumentException>(() => routes.MapGet("/files/*", Ok));
        Assert.Equal(["/files/", "/files/*"], routes.Paths);
    }

    [Fact]
    public void A_response_refuses_headers_the_server_writes_and_values_that_would_split_it()
    {
        var response = HttpRouteResponse.Text("x");

        Assert.Throws<ArgumentException>(() => response.WithHeader("Content-Length", "9"));
        Assert.Throws<ArgumentException>(() => response.WithHeader("X-Bad", "a\r\nInjected: yes"));
        Assert.Throws<ArgumentException>(() => response.WithHeader("Bad Name", "v"));
        Assert.Throws<ArgumentException>(() => new HttpRouteResponse(200, "text/plain\r\nX: y", default));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpRouteResponse(101, "text/plain", default));
        Assert.Equal([new KeyValuePair<string, string>("X-Good", "1")], response.WithHeader("X-Good", "1").Headers);
        Assert.Empty(response.Headers);
    }

    [Fact]
    public async Task Routes_mapped_after_the_server_was_made_change_nothing_on_it()
    {
        var options = new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0 };
        await using var server = new LocalWebSocketServer(options);
        options.Routes.MapGet("/late", Ok);
        await server.StartAsync();

        var response = await RawConnection.ExchangeAsync(server.LocalEndPoint!.Port, "GET /late HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.Equal(404, RawConnection.StatusOf(response));
        Assert.Equal(0, server.Options.Routes.Count);
    }
}
