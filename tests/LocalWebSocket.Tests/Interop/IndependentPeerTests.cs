using System.Net.WebSockets;
using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>Our server and client against implementations that share no code with ours.</summary>
public sealed class IndependentPeerTests
{
    [Fact]
    public async Task Python_websockets_client_reads_details_and_round_trips_through_our_server()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.Routing = RoutingMode.Echo;
            o.Details = new JsonObject { ["name"] = "interop", ["n"] = 1 };
        });
        var joined = new Probe<ConnectedClient>();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        server.ClientDisconnected += (_, e) => left.Add(e);

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "py_client_check.py", "127.0.0.1", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(exitCode == 0, output + errors);
        Assert.Contains("""DETAILS {"n": 1, "name": "interop"}""", output, StringComparison.Ordinal);
        Assert.Contains("OK python client", output, StringComparison.Ordinal);
        var client = (await joined.WaitForCountAsync(1))[0];
        Assert.Equal("py peer", client.Details["name"]);
        Assert.Equal("😀", client.Details["emoji"]);
        var gone = (await left.WaitForCountAsync(1))[0];
        Assert.Equal(WebSocketCloseStatus.NormalClosure, gone.CloseStatus);
        Assert.Equal("bye", gone.CloseDescription);
    }

    [Fact]
    public async Task Node_ws_client_round_trips_through_our_server()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);

        var (exitCode, output, errors) = await PeerProcess.RunAsync("node", "node_client_check.js", server.WebSocketUrl + "?via=node");

        Assert.True(exitCode == 0, output + errors);
        Assert.Contains("OK node client; close code 1000", output, StringComparison.Ordinal);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await left.WaitForCountAsync(1))[0].CloseStatus);
    }

    [Fact]
    public async Task Node_ws_and_our_client_talk_in_broadcast_mode()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        await using var ours = new LocalWebSocketClient();
        var got = new Probe<WebSocketMessage>();
        ours.MessageReceived += (_, m) => got.Add(m);
        await ours.ConnectAsync(server.WebSocketUrl).Within();

        // The node client's messages reach us; it expects its echo, so we play the echo back.
        ours.MessageReceived += (_, m) => _ = ours.SendAsync(m);
        var (exitCode, output, errors) = await PeerProcess.RunAsync("node", "node_client_check.js", server.WebSocketUrl.ToString());

        Assert.True(exitCode == 0, output + errors);
        var messages = await got.WaitForCountAsync(3);
        Assert.Equal("hello from node", messages[0].Text);
        Assert.True(messages[1].IsBinary);
        Assert.Equal(100000, messages[2].Text.Length);
    }

    [Fact]
    public async Task Our_client_round_trips_with_a_python_websockets_server()
    {
        await using var peer = PeerProcess.Start(PeerProcess.Python, "py_echo_server.py", "30");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["who"] = "dotnet" } });
        var got = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => got.Add(m);
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        await client.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
        await client.SendAsync("hello python");
        await client.SendAsync(new byte[] { 0, 1, 2, 255 }.AsMemory());
        await client.SendAsync(new string('é', 200_000));
        await client.SendAsync(new byte[5 * 1024 * 1024].AsMemory());

        var messages = await got.WaitForCountAsync(4);
        Assert.Equal("hello python", messages[0].Text);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, messages[1].ToArray());
        Assert.True(messages[1].IsBinary);
        Assert.Equal(new string('é', 200_000), messages[2].Text);
        Assert.Equal(5 * 1024 * 1024, messages[3].Data.Length);

        await client.DisconnectAsync().Within();
        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        var closed = states.Items[^1];
        Assert.Equal(WebSocketCloseStatus.NormalClosure, closed.CloseStatus);
        Assert.Null(closed.Error);
    }

    [Fact]
    public async Task Autobahn_style_probes_find_our_server_conformant()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "ws_conformance_probe.py", server.WebSocketUrl.ToString());

        Assert.True(exitCode == 0, output + errors);
        Assert.Contains("18 passed, 0 failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Autobahn_style_probes_find_our_server_conformant_with_compression_on()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.Routing = RoutingMode.Echo;
            o.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
        });

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "ws_conformance_probe.py", server.WebSocketUrl.ToString(), "--deflate");

        Assert.True(exitCode == 0, output + errors);
        Assert.Contains("PASS compressed text, then RSV2: echoed before the failure echo-close 1 echoed, close 1002", output, StringComparison.Ordinal);
        Assert.Contains("19 passed, 0 failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Our_client_reassembles_fragments_with_a_ping_between_them()
    {
        await using var peer = PeerProcess.Start(PeerProcess.Python, "ws_bad_server.py", "30");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var got = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => got.Add(m);

        await client.ConnectAsync($"ws://127.0.0.1:{port}/fragments").Within();

        Assert.Equal("RESULT fragments pong PASS", await peer.WaitForLineAsync("RESULT fragments"));
        Assert.Equal("fragmented", (await got.WaitForCountAsync(1)).Single().Text);
    }

    [Theory]
    [InlineData("rsv1", 1002)]
    [InlineData("badop", 1002)]
    [InlineData("badutf8", 1007)]
    [InlineData("masked", 1002)]
    [InlineData("fragutf8", 1007)]
    public async Task Our_client_fails_a_misbehaving_server_with_the_right_close_code(string scenario, int expectedCode)
    {
        await using var peer = PeerProcess.Start(PeerProcess.Python, "ws_bad_server.py", "30");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);

        await client.ConnectAsync($"ws://127.0.0.1:{port}/{scenario}").Within();

        var result = await peer.WaitForLineAsync($"RESULT {scenario}");
        Assert.Equal($"RESULT {scenario} client close {expectedCode} PASS", result);
        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        Assert.NotNull(states.Items[^1].Error);
    }

    [Fact]
    public async Task Our_client_answers_a_servers_ping()
    {
        await using var peer = PeerProcess.Start(PeerProcess.Python, "ws_bad_server.py", "30");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        await using var client = new LocalWebSocketClient();

        await client.ConnectAsync($"ws://127.0.0.1:{port}/ping").Within();

        Assert.Equal("RESULT ping pong PASS", await peer.WaitForLineAsync("RESULT ping"));
    }
}
