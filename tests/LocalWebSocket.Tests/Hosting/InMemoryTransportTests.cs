using System.Net;
using System.Net.WebSockets;
using System.Text;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Hosting;

/// <summary>The hub without a socket: hosted, fed connections made of in-memory pipes.</summary>
public sealed class InMemoryTransportTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("10.9.8.7"), 4242);

    private static async Task<LocalWebSocketServer> StartHostedAsync(Action<LocalWebSocketServerOptions>? configure = null)
    {
        var options = new LocalWebSocketServerOptions { Routing = RoutingMode.Broadcast };
        configure?.Invoke(options);
        var server = new LocalWebSocketServer(options);
        await server.StartHostedAsync();
        return server;
    }

    /// <summary>Upgrades an in-memory connection and returns the client's WebSocket on it.</summary>
    private static async Task<(WebSocket Socket, Task Served)> JoinAsync(LocalWebSocketServer server, string query = "")
    {
        var connection = InMemoryConnection.Create();
        var served = server.AcceptConnectionAsync(connection.ServerEnd, Peer);
        var head = await connection.RequestAsync(RawConnection.Upgrade("/ws" + query));
        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", head, StringComparison.Ordinal);
        return (WebSocket.CreateFromStream(connection.ClientEnd, isServer: false, subProtocol: null, keepAliveInterval: TimeSpan.Zero), served);
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        var buffer = new byte[1024];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TestServers.Timeout);
        Assert.True(result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    [Fact]
    public async Task Two_in_memory_clients_join_with_their_details_and_chat_through_the_hub()
    {
        await using var server = await StartHostedAsync();
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);

        var (ann, annServed) = await JoinAsync(server, "?name=Ann");
        var (bob, bobServed) = await JoinAsync(server, "?name=Bob");
        await joined.WaitForCountAsync(2);
        await ann.SendAsync("hi Bob"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

        Assert.Equal("hi Bob", await ReceiveTextAsync(bob));
        Assert.Equal(["Ann", "Bob"], joined.Items.Select(client => client.Details["name"]).Order());
        Assert.All(joined.Items, client => Assert.Equal(Peer, client.RemoteEndPoint));

        await ann.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WaitAsync(TestServers.Timeout);
        await annServed.Within();
        Assert.Equal("Bob", Assert.Single(server.Clients).Details["name"]);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, ann.CloseStatus);

        // Stopping closes Bob with 1001; he answers the close, and his connection ends.
        var closing = bob.ReceiveAsync(new byte[16], CancellationToken.None);
        var stopping = server.StopAsync();
        Assert.Equal(WebSocketMessageType.Close, (await closing.WaitAsync(TestServers.Timeout)).MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, bob.CloseStatus);
        await bob.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, null, CancellationToken.None).WaitAsync(TestServers.Timeout);
        await Task.WhenAll(stopping, bobServed).Within();
    }

    [Fact]
    public async Task The_details_document_and_the_handshake_rules_are_the_same_in_memory()
    {
        await using var server = await StartHostedAsync(o => o.Details = new System.Text.Json.Nodes.JsonObject { ["name"] = "Pipes" });

        var details = InMemoryConnection.Create();
        var served = server.AcceptConnectionAsync(details.ServerEnd, Peer);
        var head = await details.RequestAsync("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        var body = new byte["""{"name":"Pipes"}""".Length];
        await details.ClientEnd.ReadExactlyAsync(body).AsTask().WaitAsync(TestServers.Timeout);
        var refused = InMemoryConnection.Create();
        var refusedServed = server.AcceptConnectionAsync(refused.ServerEnd, Peer);
        var refusal = await refused.RequestAsync("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        await refused.ClientEnd.DisposeAsync();
        await details.ClientEnd.DisposeAsync();

        Assert.StartsWith("HTTP/1.1 200 OK\r\nServer: local-websocket/1.0.0\r\n", head, StringComparison.Ordinal);
        Assert.Equal("""{"name":"Pipes"}""", Encoding.UTF8.GetString(body));
        Assert.StartsWith("HTTP/1.1 400 ", refusal, StringComparison.Ordinal);
        await Task.WhenAll(served, refusedServed).Within();
        Assert.Equal(0, server.GetStatistics().OpenConnections);
    }

    [Fact]
    public async Task A_hosted_server_says_what_it_lacks_and_refuses_what_it_cannot_do()
    {
        await using var server = await StartHostedAsync(o => o.AdvertiseMdns = true);
        using var certificate = LocalWebSocket.Security.TlsCertificates.CreateSelfSigned("hosted");
        await using var secure = new LocalWebSocketServer(new LocalWebSocketServerOptions { Certificate = certificate });
        await using var stopped = new LocalWebSocketServer();

        Assert.True(server.IsRunning);
        Assert.Contains("hosted without an endpoint", Assert.Throws<InvalidOperationException>(() => server.LocalEndPoint).Message, StringComparison.Ordinal);
        Assert.Contains("needs the endpoint", server.AdvertisingError?.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartHostedAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Contains("Kestrel", (await Assert.ThrowsAsync<InvalidOperationException>(() => secure.StartHostedAsync())).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => stopped.AcceptConnectionAsync(InMemoryConnection.Create().ServerEnd, Peer));
    }

    [Fact]
    public async Task A_host_request_reaching_a_server_that_is_not_running_is_refused_with_503()
    {
        await using var server = new LocalWebSocketServer();
        var request = new RecordingUpgradeRequest();

        await server.AcceptUpgradeAsync(request).Within();

        Assert.Equal(503, request.RefusedWith);
        Assert.False(request.Accepted);
    }

    /// <summary>A host of our own making, to see what the hub tells it.</summary>
    private sealed class RecordingUpgradeRequest() : WebSocketUpgradeRequest("GET", isHttp11: true, query: null, headers: [], Peer)
    {
        public int? RefusedWith { get; private set; }

        public bool Accepted { get; private set; }

        protected internal override ValueTask<Stream> AcceptAsync(string? subProtocol, string? extensions, CancellationToken cancellationToken)
        {
            Accepted = true;
            return new(Stream.Null);
        }

        protected internal override ValueTask RejectAsync(int statusCode, string contentType, string body, KeyValuePair<string, string>? header, CancellationToken cancellationToken)
        {
            RefusedWith = statusCode;
            return ValueTask.CompletedTask;
        }
    }
}
