using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

/// <summary>The server's own HTTP/1.1 handshake, driven byte by byte over plain TCP.</summary>
public sealed class HandshakeTests
{
    [Fact]
    public async Task Valid_upgrade_gets_101_with_the_rfc_accept_value()
    {
        await using var server = await TestServers.StartAsync();
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync(RawConnection.Upgrade());
        var head = await connection.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Upgrade: websocket\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Connection: Upgrade\r\n", head, StringComparison.Ordinal);
        // The example key and accept value of RFC 6455 section 1.3.
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Frames_sent_right_behind_the_request_are_not_lost()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var connection = await RawConnection.OpenAsync(server.Port);

        // A masked text frame "hi" in the same write as the request.
        byte[] frame = [0x81, 0x82, 1, 2, 3, 4, (byte)('h' ^ 1), (byte)('i' ^ 2)];
        await connection.SendAsync([.. Encoding.ASCII.GetBytes(RawConnection.Upgrade()), .. frame]);
        await connection.ReadHeadAsync();

        var echo = new byte[4];
        var read = 0;
        while (read < 4)
        {
            read += await connection.Stream.ReadAsync(echo.AsMemory(read)).AsTask().Within();
        }

        Assert.Equal(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }, echo);
    }

    public static TheoryData<string, int> Refusals => new()
    {
        { "GET /ws HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
        { "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { RawConnection.Upgrade().Replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", StringComparison.Ordinal), 400 },
        { RawConnection.Upgrade().Replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", StringComparison.Ordinal), 400 },
        { RawConnection.Upgrade(extraHeaders: "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), 400 },
        { RawConnection.Upgrade().Replace("Host: 127.0.0.1\r\n", "", StringComparison.Ordinal), 400 },
        { RawConnection.Upgrade(extraHeaders: "Host: other\r\n"), 400 },
        { RawConnection.Upgrade(extraHeaders: "Content-Length: 5\r\n"), 400 },
        { RawConnection.Upgrade(extraHeaders: "Transfer-Encoding: chunked\r\n"), 400 },
        { RawConnection.Upgrade().Replace("HTTP/1.1", "HTTP/1.0", StringComparison.Ordinal), 400 },
        { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage that looks like TLS\r\n\r\n", 400 },
        { "GET /ws HTTP/1.1\nHost: h\n\n", 400 },
        { RawConnection.Upgrade("/nope"), 404 },
        { "GET /ws/ HTTP/1.1\r\nHost: h\r\n\r\n", 404 },
        { "GET /favicon.ico HTTP/1.1\r\nHost: h\r\n\r\n", 404 },
        { RawConnection.Upgrade().Replace("GET", "POST", StringComparison.Ordinal), 405 },
        { "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", 405 },
        { RawConnection.Upgrade().Replace("Version: 13", "Version: 8", StringComparison.Ordinal), 426 },
        { RawConnection.Upgrade().Replace("Sec-WebSocket-Version: 13\r\n", "", StringComparison.Ordinal), 426 },
        { "GET /ws HTTP/2.0\r\nHost: h\r\n\r\n", 505 },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Bad_requests_get_the_right_status_and_a_closed_connection(string request, int expectedStatus)
    {
        await using var server = await TestServers.StartAsync();

        var response = await RawConnection.ExchangeAsync(server.Port, request);

        Assert.Equal(expectedStatus, RawConnection.StatusOf(response));
        Assert.Contains("Connection: close\r\n", response, StringComparison.Ordinal);
        Assert.Empty(server.Clients);
        Assert.True(server.GetStatistics().RequestsRejected >= 1);
    }

    [Fact]
    public async Task Wrong_version_answer_names_the_supported_version()
    {
        await using var server = await TestServers.StartAsync();
        var response = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade().Replace("Version: 13", "Version: 7", StringComparison.Ordinal));

        Assert.Equal(426, RawConnection.StatusOf(response));
        Assert.Contains("\r\nSec-WebSocket-Version: 13\r\n", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Method_not_allowed_lists_the_allowed_methods()
    {
        await using var server = await TestServers.StartAsync();
        var response = await RawConnection.ExchangeAsync(server.Port, "PUT / HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Contains("\r\nAllow: GET, HEAD\r\n", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_request_head_is_431_even_while_the_client_keeps_sending()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxRequestHeadSize = 1024);
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('a', 4000) + "\r\n\r\n");
        var response = await connection.ReadToEndAsync();

        Assert.Equal(431, RawConnection.StatusOf(response));
    }

    [Fact]
    public async Task Too_many_header_fields_is_431()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxRequestHeaders = 8);
        var headers = string.Concat(Enumerable.Range(0, 9).Select(i => $"X-{i}: v\r\n"));
        var response = await RawConnection.ExchangeAsync(server.Port, $"GET / HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
        Assert.Equal(431, RawConnection.StatusOf(response));
    }

    [Fact]
    public async Task A_trickled_request_times_out_on_the_servers_clock_however_often_bytes_come()
    {
        var timeout = TimeSpan.FromSeconds(5);
        var clock = new ObservedFakeTime();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.HandshakeTimeout = timeout;
            o.TimeProvider = clock;
        });
        await using var connection = await RawConnection.OpenAsync(server.Port);

        // A byte every fifth of a second, never finishing the head (the slowloris pattern): bytes do not
        // restart the limit, which ends 5 s after the connection came, not after its last byte.
        var step = TimeSpan.FromMilliseconds(200);
        const string trickled = "ET / HTTP/1.1\r\nX-Slow";
        foreach (var b in trickled)
        {
            clock.Advance(step);
            await connection.SendAsync(b.ToString());
        }

        clock.Advance(timeout - (step * trickled.Length) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, server.GetStatistics().HandshakeTimeouts);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var response = await connection.ReadToEndAsync();

        Assert.Equal(408, RawConnection.StatusOf(response));
        Assert.Equal(1, server.GetStatistics().HandshakeTimeouts);
    }

    [Fact]
    public async Task A_silent_connection_gets_408_once_the_handshake_timeout_has_passed_on_the_servers_clock()
    {
        var clock = new ObservedFakeTime();
        await using var server = await TestServers.StartAsync(o =>
        {
            o.HandshakeTimeout = TimeSpan.FromSeconds(30);
            o.TimeProvider = clock;
        });
        await using var connection = await RawConnection.OpenAsync(server.Port);
        await clock.WaitForArmedAsync(TimeSpan.FromSeconds(30));

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, server.GetStatistics().HandshakeTimeouts);
        clock.Advance(TimeSpan.FromSeconds(1));
        var response = await connection.ReadToEndAsync();

        Assert.Equal(408, RawConnection.StatusOf(response));
    }

    [Fact]
    public async Task Connections_over_the_limit_get_503_and_others_keep_working()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxConnections = 2);
        await using var first = new LocalWebSocket.Client.LocalWebSocketClient();
        await using var second = new LocalWebSocket.Client.LocalWebSocketClient();
        await first.ConnectAsync(server.WebSocketUrl).Within();
        await second.ConnectAsync(server.WebSocketUrl).Within();

        var response = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());

        Assert.Equal(503, RawConnection.StatusOf(response));
        Assert.Equal(1, server.GetStatistics().MaxConnectionsRejections);
        var received = new Probe<WebSocketMessage>();
        second.MessageReceived += (_, m) => received.Add(m);
        await first.SendAsync("still fine");
        Assert.Equal("still fine", (await received.WaitForCountAsync(1))[0].Text);

        // A client that leaves frees its place.
        var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ClientDisconnected += (_, _) => left.TrySetResult();
        await first.DisposeAsync();
        await left.Task.Within();
        await using var third = new LocalWebSocket.Client.LocalWebSocketClient();
        await third.ConnectAsync(server.WebSocketUrl).Within();
        Assert.True(third.IsConnected);
    }

    [Fact]
    public async Task Garbage_flood_on_one_connection_does_not_disturb_a_connected_client()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var client = new LocalWebSocket.Client.LocalWebSocketClient();
        var received = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => received.Add(m);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        var random = new Random(42);
        var floods = Enumerable.Range(0, 8).Select(async _ =>
        {
            var garbage = new byte[64 * 1024];
            random.NextBytes(garbage);
            await using var raw = await RawConnection.OpenAsync(server.Port);
            try
            {
                await raw.SendAsync(garbage);
            }
            catch (IOException)
            {
                // The server may cut us off mid-flood: that is the point.
            }

            return await raw.ReadToEndAsync();
        });
        var responses = await Task.WhenAll(floods).Within();

        await client.SendAsync("after the flood");
        Assert.Equal("after the flood", (await received.WaitForCountAsync(1))[0].Text);
        Assert.All(responses, r => Assert.True(r.Length == 0 || RawConnection.StatusOf(r) is 400 or 431, r));
    }

    [Fact]
    public async Task Subprotocol_is_negotiated_in_server_preference_order()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.SubProtocols.Add("chat.v2");
            o.SubProtocols.Add("chat.v1");
        });
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync(RawConnection.Upgrade(extraHeaders: "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n"));
        var head = await connection.ReadHeadAsync();

        Assert.Contains("Sec-WebSocket-Protocol: chat.v2\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Protocol_violation_after_upgrade_closes_with_1002_and_leaves()
    {
        await using var server = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var connection = await RawConnection.OpenAsync(server.Port);
        await connection.SendAsync(RawConnection.Upgrade());
        await connection.ReadHeadAsync();

        // An unmasked client frame is a protocol error (RFC 6455 section 5.1). The BCL reads a whole
        // masked-size header before it checks the mask bit, so the frame carries a few payload bytes.
        await connection.SendAsync([0x81, 0x06, .. "hello!"u8]);
        var reply = new byte[4];
        var read = await connection.Stream.ReadAsync(reply).AsTask().Within();

        Assert.True(read >= 4);
        Assert.Equal(0x88, reply[0]);
        Assert.Equal((int)WebSocketCloseStatus.ProtocolError, (reply[2] << 8) | reply[3]);
        await left.WaitForCountAsync(1);
        Assert.Empty(server.Clients);
    }
}
