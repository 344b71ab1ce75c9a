using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json.Serialization;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Client;

public sealed partial class ClientTests
{
    internal sealed record Move(string Player, int X, int Y);

    [JsonSerializable(typeof(Move))]
    internal sealed partial class TestJsonContext : JsonSerializerContext;

    [Fact]
    public async Task Details_are_merged_over_the_url_query_and_form_encoded()
    {
        await using var server = await TestServers.StartAsync();
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            Details = { ["username"] = "Zoë D", ["room"] = "from details" },
        });

        await client.ConnectAsync($"ws://127.0.0.1:{server.Port}/ws?room=from+url&token=t%26k").Within();

        var details = (await joined.WaitForCountAsync(1))[0].Details;
        Assert.Equal("Zoë D", details["username"]);
        Assert.Equal("from details", details["room"]);
        Assert.Equal("t&k", details["token"]);
        Assert.Contains("username=Zo%C3%AB+D", client.Url!.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_bytes_and_json_round_trip_with_helpers()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var client = new LocalWebSocketClient();
        var readerReady = new TaskCompletionSource();
        var reading = Task.Run(async () =>
        {
            var got = new List<WebSocketMessage>();
            await using var e = client.Messages.GetAsyncEnumerator();
            readerReady.SetResult();
            while (got.Count < 4 && await e.MoveNextAsync())
            {
                got.Add(e.Current);
            }

            return got;
        });
        await readerReady.Task.Within();
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await client.SendAsync("plain");
        await client.SendAsync(new byte[] { 0, 255 }.AsMemory());
        await client.SendJsonAsync(new Move("ann", 1, 2), TestJsonContext.Default.Move);
        await client.SendAsync(WebSocketMessage.FromJson(new Move("bob", 3, 4), TestJsonContext.Default.Move));

        var got = await reading.Within();
        Assert.Equal("plain", got[0].Text);
        Assert.Equal(new byte[] { 0, 255 }, got[1].ToArray());
        Assert.Equal(new Move("ann", 1, 2), got[2].ReadJson(TestJsonContext.Default.Move));
        Assert.True(got[2].IsText);
        Assert.Equal(new Move("bob", 3, 4), got[3].ReadJson(TestJsonContext.Default.Move));
    }

    [Fact]
    public async Task State_is_a_value_and_a_stream_and_disconnect_closes_with_1000()
    {
        await using var server = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var client = new LocalWebSocketClient();
        var changes = new Probe<ConnectionState>();
        client.StateChanged += (_, e) => changes.Add(e.State);
        Assert.Equal(ConnectionState.Disconnected, client.State);

        await client.ConnectAsync(server.WebSocketUrl).Within();
        Assert.Equal(ConnectionState.Connected, client.State);
        await client.DisconnectAsync().Within();

        await changes.WaitForCountAsync(4);
        Assert.Equal([ConnectionState.Connecting, ConnectionState.Connected, ConnectionState.Disconnecting, ConnectionState.Disconnected], changes.Items);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await left.WaitForCountAsync(1))[0].CloseStatus);
        var notConnected = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.SendAsync("late").AsTask());
        Assert.Equal(LocalWebSocketErrorCode.NotConnected, notConnected.Code);
    }

    [Fact]
    public async Task A_burst_of_sends_then_a_disconnect_arrives_whole_in_order_and_closes_with_1000()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.None);
        var atServer = new ConcurrentQueue<string>();
        server.MessageReceived += (_, e) => atServer.Enqueue(e.Message.Text);
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        await client.ConnectAsync(server.WebSocketUrl).Within();

        // Small messages that share socket writes, some past what a write may buffer, and large ones between.
        static int Length(int i) => i % 500 == 499 ? 100_000 : i % 3_000;
        const int Count = 2_000;
        for (var i = 0; i < Count; i++)
        {
            await client.SendAsync($"{i}:{new string('x', Length(i))}");
        }

        // The close frame goes behind whatever the burst left buffered, and must not overtake or lose it.
        await client.DisconnectAsync().Within();

        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await left.WaitForCountAsync(1))[0].CloseStatus);
        var received = atServer.Select(text => text.Split(':')).ToList();
        Assert.Equal(Enumerable.Range(0, Count), received.Select(parts => int.Parse(parts[0])));
        Assert.All(received, parts => Assert.Equal(Length(int.Parse(parts[0])), parts[1].Length));
    }

    [Fact]
    public async Task Disconnecting_during_sends_from_many_threads_ends_each_send_cleanly_and_closes_with_1000()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.None);
        var atServer = new ConcurrentQueue<string>();
        var enoughArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.MessageReceived += (_, e) =>
        {
            atServer.Enqueue(e.Message.Text);
            if (atServer.Count >= 200)
            {
                enoughArrived.TrySetResult();
            }
        };
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        await client.ConnectAsync(server.WebSocketUrl).Within();

        // Each sender sends until a send fails; every failure must be one of ours, saying why.
        var senders = Enumerable.Range(0, 4).Select(t => Task.Run<LocalWebSocketErrorCode?>(async () =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                try
                {
                    await client.SendAsync($"{t}:{i}:{new string('x', i % 300)}");
                }
                catch (LocalWebSocketException exception)
                {
                    return exception.Code;
                }
            }

            return null;
        })).ToArray();
        await enoughArrived.Task.Within();
        await client.DisconnectAsync().Within();

        var endings = await Task.WhenAll(senders).Within();
        Assert.All(endings, code => Assert.True(code is LocalWebSocketErrorCode.NotConnected or LocalWebSocketErrorCode.ConnectionFailed, $"{code}"));
        await left.WaitForCountAsync(1);

        // Whatever reached the server is whole, and each sender's messages are in order.
        foreach (var group in atServer.Select(text => text.Split(':')).GroupBy(parts => parts[0]))
        {
            var numbers = group.Select(parts => int.Parse(parts[1])).ToList();
            Assert.Equal(Enumerable.Range(0, numbers.Count), numbers);
            Assert.All(group, parts => Assert.Equal(int.Parse(parts[1]) % 300, parts[2].Length));
        }
    }

    [Fact]
    public async Task A_send_stuck_on_a_peer_that_stopped_reading_fails_as_connection_failed_when_the_close_times_out()
    {
        await using var silent = new SilentWebSocketServer();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            KeepAliveInterval = TimeSpan.Zero,
            CloseTimeout = TimeSpan.FromMilliseconds(200),
            ReconnectPolicy = ReconnectPolicy.None,
        });
        await client.ConnectAsync(silent.Url).Within();

        // The socket buffers fill up: some send stops completing at once, stuck on a full buffer.
        var chunk = new byte[64 * 1024];
        ValueTask stuck = default;
        for (var i = 0; i < 10_000 && stuck.IsCompleted; i++)
        {
            stuck = client.SendAsync(chunk.AsMemory());
        }

        Assert.False(stuck.IsCompleted, "no send got stuck");
        await client.DisconnectAsync().Within();

        // The close could not get through, the connection was dropped: the stuck send says so, in our terms.
        var failure = await Assert.ThrowsAsync<LocalWebSocketException>(() => stuck.AsTask().Within());
        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, failure.Code);
        Assert.Equal(ConnectionState.Disconnected, client.State);
    }

    [Fact]
    public async Task Connection_refused_is_connection_failed()
    {
        using var reserved = new Socket(SocketType.Stream, ProtocolType.Tcp);
        reserved.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)reserved.LocalEndPoint!).Port;
        await using var client = new LocalWebSocketClient();
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync($"ws://127.0.0.1:{port}/ws"));

        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, error.Code);
        Assert.IsType<SocketException>(error.InnerException);
        Assert.Equal(ConnectionState.Disconnected, client.State);
        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, (await states.WaitForCountAsync(2))[1].Error!.Code);
    }

    [Fact]
    public async Task A_server_that_never_answers_hits_the_connect_timeout_on_the_clients_clock()
    {
        await using var silent = new CannedHttpServer(response: null);
        var clock = new ObservedFakeTime();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(20),
            ReconnectPolicy = ReconnectPolicy.None,
            TimeProvider = clock,
        });

        var connecting = Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(silent.Url));
        await clock.WaitForArmedAsync(TimeSpan.FromSeconds(20));
        clock.Advance(TimeSpan.FromSeconds(19));
        Assert.False(connecting.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        var error = await connecting.Within();

        Assert.Equal(LocalWebSocketErrorCode.ConnectTimeout, error.Code);
        Assert.Equal(ConnectionState.Disconnected, client.State);
    }

    [Fact]
    public async Task Caller_cancellation_is_an_operation_canceled_exception()
    {
        await using var silent = new CannedHttpServer(response: null);
        await using var client = new LocalWebSocketClient();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ConnectAsync(silent.Url, cancel.Token));
        Assert.Equal(ConnectionState.Disconnected, client.State);
    }

    [Theory]
    [InlineData(401, "Missing token parameter")]
    [InlineData(403, "Invalid token")]
    public async Task Authentication_refusals_carry_the_status_and_the_servers_reason(int status, string reason)
    {
        var body = $$$"""{"error":{"code":"AUTHENTICATION_FAILED","message":"{{{reason}}}","statusCode":{{{status}}}}}""";
        await using var refusing = new CannedHttpServer(
            $"HTTP/1.1 {status} Refused\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        await using var client = new LocalWebSocketClient();

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(refusing.Url));

        Assert.Equal(LocalWebSocketErrorCode.AuthenticationFailed, error.Code);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal(reason, error.Message);
    }

    [Fact]
    public async Task A_chunked_refusal_body_is_read_too()
    {
        const string body = """{"error":{"code":"AUTHENTICATION_FAILED","message":"Access denied","statusCode":403}}""";
        await using var refusing = new CannedHttpServer(
            $"HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n{body.Length:x}\r\n{body}\r\n0\r\n\r\n");
        await using var client = new LocalWebSocketClient();

        var error = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(refusing.Url));

        Assert.Equal("Access denied", error.Message);
    }

    [Fact]
    public async Task Other_statuses_and_bad_upgrades_are_handshake_failures()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient();
        var notFound = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync($"ws://127.0.0.1:{server.Port}/nope"));
        Assert.Equal(LocalWebSocketErrorCode.HandshakeFailed, notFound.Code);
        Assert.Equal(404, notFound.StatusCode);

        await using var wrongAccept = new CannedHttpServer(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n");
        var badAccept = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(wrongAccept.Url));
        Assert.Equal(LocalWebSocketErrorCode.HandshakeFailed, badAccept.Code);

        await using var garbage = new CannedHttpServer("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        var notHttp = await Assert.ThrowsAsync<LocalWebSocketException>(() => client.ConnectAsync(garbage.Url));
        Assert.Equal(LocalWebSocketErrorCode.HandshakeFailed, notHttp.Code);
    }

    [Theory]
    [InlineData(1008)]
    [InlineData(3000)]
    public async Task A_validation_close_surfaces_as_validation_failed(int code)
    {
        await using var server = await TestServers.StartAsync();
        server.ClientConnected += (_, e) => _ = e.Client.DisconnectAsync((WebSocketCloseStatus)code, "Client validation failed");
        await using var client = new LocalWebSocketClient();
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        await client.ConnectAsync(server.WebSocketUrl).Within();

        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        var closed = states.Items[^1];
        Assert.Equal(LocalWebSocketErrorCode.ValidationFailed, closed.Error!.Code);
        Assert.Equal("Client validation failed", closed.Error.Message);
        Assert.Equal(code, (int)closed.CloseStatus!);
    }

    [Fact]
    public async Task Disconnect_with_a_code_and_reason_reaches_the_server_and_a_code_that_cannot_be_sent_is_refused_on_both_sides()
    {
        await using var server = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var client = new LocalWebSocketClient();
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the client joined");

        // 1005, 1006 and 1015 are never sent; 1004 and 1016-2999 are reserved; 5000 and up do not exist.
        foreach (var code in new[] { 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000 })
        {
            Assert.Throws<ArgumentOutOfRangeException>("closeStatus", () => { _ = client.DisconnectAsync((WebSocketCloseStatus)code, null, CancellationToken.None); });
            Assert.Throws<ArgumentOutOfRangeException>("closeStatus", () => { _ = server.Clients[0].DisconnectAsync((WebSocketCloseStatus)code); });
        }

        Assert.Throws<ArgumentException>("reason", () => { _ = client.DisconnectAsync((WebSocketCloseStatus)4000, new string('é', 62), CancellationToken.None); });
        Assert.Equal(ConnectionState.Connected, client.State);
        await client.DisconnectAsync((WebSocketCloseStatus)4999, new string('r', 123), CancellationToken.None).Within();

        var gone = (await left.WaitForCountAsync(1))[0];
        Assert.Equal((WebSocketCloseStatus)4999, gone.CloseStatus);
        Assert.Equal(new string('r', 123), gone.CloseDescription);
        Assert.Equal((WebSocketCloseStatus)4999, client.GetStatistics().LastCloseStatus);
    }

    [Fact]
    public async Task Only_ws_urls_are_accepted_and_connecting_elsewhere_closes_the_old_connection_with_1001()
    {
        await using var server = await TestServers.StartAsync();
        await using var other = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var client = new LocalWebSocketClient();

        await Assert.ThrowsAsync<ArgumentException>(() => client.ConnectAsync($"http://127.0.0.1:{server.Port}/ws"));
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await client.ConnectAsync(other.WebSocketUrl).Within();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, (await left.WaitForCountAsync(1))[0].CloseStatus);
        Assert.True(client.IsConnected);
        Assert.Single(other.Clients);
        Assert.Throws<ArgumentException>(() => new LocalWebSocketClient(new LocalWebSocketClientOptions { Headers = { ["Bad Header"] = "x" } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalWebSocketClientOptions { ConnectTimeout = TimeSpan.Zero });
    }

    [Fact]
    public async Task Concurrent_connects_are_serialised_and_leave_exactly_one_connection()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient();
        using var start = new Barrier(2);

        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            start.SignalAndWait(TestServers.Timeout);
            await client.ConnectAsync(server.WebSocketUrl);
        }))).Within();

        var changes = new Probe<int>();
        server.ClientsChanged += (_, e) => changes.Add(e.Clients.Count);
        changes.Add(server.Clients.Count);
        await changes.WaitUntilAsync(c => c[^1] == 1);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Oversized_incoming_message_closes_with_1009_and_reports_it()
    {
        await using var server = await TestServers.StartAsync();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { MaxMessageSize = 100, ReconnectPolicy = ReconnectPolicy.None });
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        server.SendToAll(WebSocketMessage.FromBytes(new byte[101]));

        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        Assert.Equal(LocalWebSocketErrorCode.MessageTooLarge, states.Items[^1].Error!.Code);
    }

    [Fact]
    public async Task Server_vanishing_without_a_close_is_reported_as_a_broken_connection()
    {
        await using var server = await TestServers.StartAsync();
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        (await joined.WaitForCountAsync(1))[0].Abort();

        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        Assert.Null(states.Items[^1].CloseStatus);
        Assert.Equal(LocalWebSocketErrorCode.ConnectionFailed, states.Items[^1].Error!.Code);
    }
}
