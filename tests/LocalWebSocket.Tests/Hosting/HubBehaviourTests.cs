using System.Net.WebSockets;
using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Hosting;

/// <summary>
/// The hub's behaviour, written once and run against every way to host it: what a client, a scanner or an
/// app sees must not depend on whether the server has its own listener or runs on Kestrel.
/// </summary>
public abstract class HubBehaviourTests
{
    /// <summary>Starts a hub with these options, hosted the subclass's way, on 127.0.0.1.</summary>
    protected abstract Task<HostedHub> StartAsync(Action<LocalWebSocketServerOptions>? configure = null);

    private static LocalWebSocketClientOptions NoReconnect(params (string Key, string Value)[] details)
    {
        var options = new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None };
        foreach (var (key, value) in details)
        {
            options.Details[key] = value;
        }

        return options;
    }

    private static async Task<(LocalWebSocketClient Client, Probe<WebSocketMessage> Received)> ConnectAsync(HostedHub hub, params (string, string)[] details)
    {
        var client = new LocalWebSocketClient(NoReconnect(details));
        var received = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, message) => received.Add(message);
        await client.ConnectAsync(hub.WebSocketUrl).Within();
        return (client, received);
    }

    private static async Task WaitForClientsAsync(LocalWebSocketServer server, int count)
    {
        var changed = new Probe<int>();
        server.ClientsChanged += (_, e) => changed.Add(e.Clients.Count);
        changed.Add(server.Clients.Count);
        await changed.WaitUntilAsync(seen => seen[^1] == count);
    }

    private static string Get(string target) => $"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

    [Fact]
    public async Task The_details_document_has_one_server_header_and_the_details_as_json()
    {
        await using var hub = await StartAsync(o => o.Details = new JsonObject { ["name"] = "Room", ["players"] = 3 });

        var response = await RawConnection.ExchangeAsync(hub.Port, Get("/"));
        var head = response[..response.IndexOf("\r\n\r\n", StringComparison.Ordinal)];

        Assert.Equal(200, RawConnection.StatusOf(response));
        Assert.Single(head.Split("\r\n"), line => line.StartsWith("Server:", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("\r\nServer: local-websocket/1.0.0", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Type: application/json", head, StringComparison.OrdinalIgnoreCase);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Room","players":3}"""), JsonNode.Parse(response[(head.Length + 4)..])));
        Assert.Equal(1, hub.Server.GetStatistics().DetailsRequests);
    }

    [Fact]
    public async Task A_scanner_finds_the_server_with_its_details()
    {
        await using var hub = await StartAsync(o => o.Details = new JsonObject { ["name"] = "Scanned" });
        using var scanner = new ServerScanner(new ScannerOptions { Port = hub.Port });

        var found = await scanner.ProbeAsync("127.0.0.1").Within();

        Assert.NotNull(found);
        Assert.Equal("Scanned", found.Details.GetProperty("name").GetString());
        Assert.Equal(hub.WebSocketUrl, found.Url);
    }

    [Fact]
    public async Task Broadcast_relays_to_every_other_client_and_the_app_can_send_to_all()
    {
        await using var hub = await StartAsync(o => o.Routing = RoutingMode.Broadcast);
        var (a, fromA) = await ConnectAsync(hub);
        var (b, fromB) = await ConnectAsync(hub);
        await using var _ = a;
        await using var __ = b;
        await WaitForClientsAsync(hub.Server, 2);

        await a.SendAsync("hello");
        Assert.Equal("hello", (await fromB.WaitForCountAsync(1))[0].Text);
        Assert.Equal(2, hub.Server.SendToAll("from the app"));

        await fromA.WaitUntilAsync(m => m.Count >= 1);
        await fromB.WaitUntilAsync(m => m.Count >= 2);
        Assert.Equal(["from the app"], fromA.Items.Select(m => m.Text));
        Assert.Equal(["hello", "from the app"], fromB.Items.Select(m => m.Text));
        var statistics = hub.Server.GetStatistics();
        Assert.Equal(1, statistics.MessagesReceived);
        Assert.Equal(2, statistics.ClientsJoined);
    }

    [Fact]
    public async Task Echo_relays_to_every_client_including_the_sender_binary_too()
    {
        await using var hub = await StartAsync(o => o.Routing = RoutingMode.Echo);
        var (a, fromA) = await ConnectAsync(hub);
        var (b, fromB) = await ConnectAsync(hub);
        await using var _ = a;
        await using var __ = b;
        await WaitForClientsAsync(hub.Server, 2);

        await a.SendAsync(new byte[] { 1, 2, 3 });

        Assert.Equal([1, 2, 3], (await fromA.WaitForCountAsync(1))[0].Data.ToArray());
        Assert.Equal([1, 2, 3], (await fromB.WaitForCountAsync(1))[0].Data.ToArray());
    }

    [Fact]
    public async Task Clients_carry_their_details_and_their_leaving_carries_the_close_code_and_reason()
    {
        await using var hub = await StartAsync();
        var joined = new Probe<ConnectedClient>();
        var left = new Probe<ClientDisconnectedEventArgs>();
        hub.Server.ClientConnected += (_, e) => joined.Add(e.Client);
        hub.Server.ClientDisconnected += (_, e) => left.Add(e);

        var (client, _) = await ConnectAsync(hub, ("name", "Ana Lú"), ("team", "red"));
        var seen = (await joined.WaitForCountAsync(1))[0];
        Assert.Equal("Ana Lú", seen.Details["name"]);
        Assert.Equal("red", seen.Details["team"]);
        Assert.Equal(System.Net.IPAddress.Loopback, seen.RemoteEndPoint.Address);
        await client.DisposeAsync();

        var leaving = (await left.WaitForCountAsync(1))[0];
        Assert.Same(seen, leaving.Client);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, leaving.CloseStatus);
        Assert.Empty(hub.Server.Clients);
    }

    [Fact]
    public async Task The_authenticator_refuses_with_the_dart_error_body_and_admits_with_the_token_which_it_removes()
    {
        await using var hub = await StartAsync(o => o.RequestAuthenticator = new QueryTokenAuthenticator(["s3cret"]));

        var missing = await RawConnection.ExchangeAsync(hub.Port, RawConnection.Upgrade());
        Assert.Equal(401, RawConnection.StatusOf(missing));
        Assert.EndsWith("""{"error":{"code":"AUTHENTICATION_FAILED","message":"Missing token parameter","statusCode":401}}""", missing, StringComparison.Ordinal);

        var (client, _) = await ConnectAsync(hub, ("token", "s3cret"), ("name", "ann"));
        await using var _ = client;
        var admitted = Assert.Single(hub.Server.Clients);
        Assert.Equal("ann", admitted.Details["name"]);
        Assert.False(admitted.Details.ContainsKey("token"));
        Assert.Equal(1, hub.Server.GetStatistics().AuthenticationFailures);
    }

    [Fact]
    public async Task A_refused_client_is_upgraded_and_closed_with_1008()
    {
        await using var hub = await StartAsync(o => o.ClientValidator = new RequiredDetailValidator("username"));
        await using var client = new LocalWebSocketClient(NoReconnect());
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        await client.ConnectAsync(hub.WebSocketUrl).Within();
        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, states.Items[^1].CloseStatus);
        Assert.Equal("Client validation failed", states.Items[^1].CloseDescription);
        Assert.Equal(1, hub.Server.GetStatistics().ClientsRefused);
    }

    [Fact]
    public async Task Requests_that_are_not_valid_upgrades_get_the_hubs_own_refusals()
    {
        await using var hub = await StartAsync();

        var post = await RawConnection.ExchangeAsync(hub.Port, "POST /ws HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        var plainGet = await RawConnection.ExchangeAsync(hub.Port, Get("/ws"));
        var oldVersion = await RawConnection.ExchangeAsync(
            hub.Port, RawConnection.Upgrade().Replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", StringComparison.Ordinal));
        var badKey = await RawConnection.ExchangeAsync(
            hub.Port, RawConnection.Upgrade(extraHeaders: "Sec-WebSocket-Key: second\r\n"));

        Assert.Equal(405, RawConnection.StatusOf(post));
        Assert.Contains("\r\nAllow: GET\r\n", post, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(400, RawConnection.StatusOf(plainGet));
        Assert.Contains("This endpoint takes WebSocket upgrade requests only.", plainGet, StringComparison.Ordinal);
        Assert.Equal(426, RawConnection.StatusOf(oldVersion));
        Assert.Contains("\r\nSec-WebSocket-Version: 13\r\n", oldVersion, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(400, RawConnection.StatusOf(badKey));
        Assert.Empty(hub.Server.Clients);
    }

    [Fact]
    public async Task A_full_server_refuses_with_503_and_retry_after_which_the_client_reports_as_busy()
    {
        await using var hub = await StartAsync(o => o.MaxConnections = 1);
        var (first, _) = await ConnectAsync(hub);
        await using var _ = first;
        await using var second = new LocalWebSocketClient(NoReconnect());

        var refused = await Assert.ThrowsAsync<LocalWebSocketException>(() => second.ConnectAsync(hub.WebSocketUrl)).Within();

        Assert.Equal(LocalWebSocketErrorCode.ServerBusy, refused.Code);
        Assert.Equal(503, refused.StatusCode);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(1, hub.Server.GetStatistics().MaxConnectionsRejections);
    }

    private static void MapTestRoutes(LocalWebSocketServerOptions options)
    {
        options.Routes.MapGet("/status", (request, _) => ValueTask.FromResult(
            HttpRouteResponse.Json(new JsonObject { ["path"] = request.Path, ["who"] = request.Query.GetValueOrDefault("who"), ["agent"] = request.GetHeader("user-agent") })
                .WithHeader("Cache-Control", "no-store")));
        options.Routes.MapGet("/files/*", (request, _) => ValueTask.FromResult(HttpRouteResponse.Text($"file {request.Path}", "text/css; charset=utf-8")));
        options.Routes.MapGet("/broken", (_, _) => throw new InvalidOperationException("route bug"));
    }

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    [Fact]
    public async Task The_apps_routes_answer_next_to_the_details_and_the_websockets()
    {
        await using var hub = await StartAsync(MapTestRoutes);
        var (client, _) = await ConnectAsync(hub);
        await using var _ = client;

        var status = await RawConnection.ExchangeAsync(hub.Port, $"GET /status?who=ana%20b HTTP/1.1\r\nHost: h\r\nUser-Agent: probe/1\r\nConnection: close\r\n\r\n");
        var file = await RawConnection.ExchangeAsync(hub.Port, Get("/files/site.css"));
        var head = await RawConnection.ExchangeAsync(hub.Port, "HEAD /status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, RawConnection.StatusOf(status));
        Assert.Contains("\r\nServer: local-websocket/1.0.0\r\n", status, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nCache-Control: no-store\r\n", status, StringComparison.OrdinalIgnoreCase);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"path":"/status","who":"ana b","agent":"probe/1"}"""), JsonNode.Parse(Body(status))), Body(status));
        Assert.Equal("file /files/site.css", Body(file));
        Assert.Contains("Content-Type: text/css; charset=utf-8", file, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(200, RawConnection.StatusOf(head));
        Assert.Equal("", Body(head));
        Assert.Equal(3, hub.Server.GetStatistics().RouteRequests);
        Assert.Equal(0, hub.Server.GetStatistics().DetailsRequests);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task A_route_answers_only_get_and_head_an_unknown_path_is_404_and_a_throwing_route_500()
    {
        await using var hub = await StartAsync(MapTestRoutes);

        var post = await RawConnection.ExchangeAsync(hub.Port, "POST /status HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        var unknown = await RawConnection.ExchangeAsync(hub.Port, Get("/nothing-here"));
        var broken = await RawConnection.ExchangeAsync(hub.Port, Get("/broken"));
        var after = await RawConnection.ExchangeAsync(hub.Port, Get("/status"));

        Assert.Equal(405, RawConnection.StatusOf(post));
        Assert.Contains("\r\nAllow: GET, HEAD\r\n", post, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(404, RawConnection.StatusOf(unknown));
        Assert.Equal(500, RawConnection.StatusOf(broken));
        Assert.Equal(200, RawConnection.StatusOf(after));
    }

    [Fact]
    public async Task With_a_token_the_web_client_page_stays_public_and_its_client_list_answers_only_those_let_in()
    {
        await using var hub = await StartAsync(o =>
        {
            o.WebClientPath = "/app";
            o.RequestAuthenticator = new QueryTokenAuthenticator(["s3"]);
        });
        var (ana, _) = await ConnectAsync(hub, ("name", "Ana"), ("token", "s3"));
        await using var _ = ana;
        await WaitForClientsAsync(hub.Server, 1);
        var failuresBefore = hub.Server.GetStatistics().AuthenticationFailures;

        var page = await RawConnection.ExchangeAsync(hub.Port, Get("/app"));
        var missing = await RawConnection.ExchangeAsync(hub.Port, Get("/app/clients"));
        var wrong = await RawConnection.ExchangeAsync(hub.Port, Get("/app/clients?token=nope"));
        var allowed = await RawConnection.ExchangeAsync(hub.Port, Get("/app/clients?token=s3&username=Bo"));

        Assert.Equal(200, RawConnection.StatusOf(page));
        // The refusals a WebSocket upgrade gets, with the Dart servers' JSON body: the page shows their message.
        foreach (var (refusal, status) in new[] { (missing, 401), (wrong, 403) })
        {
            Assert.Equal(status, RawConnection.StatusOf(refusal));
            var error = JsonNode.Parse(Body(refusal))!["error"]!;
            Assert.Equal("AUTHENTICATION_FAILED", error["code"]!.GetValue<string>());
            Assert.Equal(status, error["statusCode"]!.GetValue<int>());
            Assert.DoesNotContain("Ana", Body(refusal), StringComparison.Ordinal);
        }

        Assert.Equal(200, RawConnection.StatusOf(allowed));
        var entry = Assert.Single(JsonNode.Parse(Body(allowed))!.AsArray())!;
        Assert.Equal("Ana", entry["details"]!["name"]!.GetValue<string>());
        // The token is a credential: never among the details shown.
        Assert.Null(entry["details"]!["token"]);
        Assert.Equal(failuresBefore + 2, hub.Server.GetStatistics().AuthenticationFailures);
    }

    [Fact]
    public async Task Stopping_the_host_closes_every_client_with_1001()
    {
        var hub = await StartAsync();
        var (client, _) = await ConnectAsync(hub);
        await using var _ = client;
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        await hub.StopAsync();

        await states.WaitUntilAsync(s => s.Count > 0 && s[^1].State == ConnectionState.Disconnected);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, states.Items[^1].CloseStatus);
        Assert.False(hub.Server.IsRunning);
    }
}

/// <summary>The hub's behaviour on its own listener.</summary>
public sealed class ListenerHubBehaviourTests : HubBehaviourTests
{
    protected override Task<HostedHub> StartAsync(Action<LocalWebSocketServerOptions>? configure = null) => ListenerHubHost.StartAsync(configure);
}

/// <summary>The hub's behaviour on Kestrel, through AddLocalWebSocket and MapLocalWebSocket.</summary>
public sealed class AspNetCoreHubBehaviourTests : HubBehaviourTests
{
    protected override Task<HostedHub> StartAsync(Action<LocalWebSocketServerOptions>? configure = null) => AspNetCoreHubHost.StartAsync(configure);
}
