using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Testing;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Client;

/// <summary>Interceptors, metrics, compression, and the fake client.</summary>
public sealed class ClientFeatureTests
{
    private sealed class Tagger(string tag, List<string> log) : IMessageInterceptor
    {
        public ValueTask<WebSocketMessage?> OnSendingAsync(WebSocketMessage message, CancellationToken cancellationToken)
        {
            log.Add($"send {tag}");
            return ValueTask.FromResult<WebSocketMessage?>(message.Text == "drop me" ? null : WebSocketMessage.FromText(message.Text + tag));
        }

        public ValueTask<WebSocketMessage?> OnReceivedAsync(WebSocketMessage message, CancellationToken cancellationToken)
        {
            log.Add($"receive {tag}");
            return ValueTask.FromResult<WebSocketMessage?>(message.Text.Contains("secret", StringComparison.Ordinal) ? null : WebSocketMessage.FromText(message.Text + tag));
        }
    }

    [Fact]
    public async Task Interceptors_transform_and_drop_sending_in_order_and_receiving_in_reverse()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.None);
        var atServer = new Probe<string>();
        server.MessageReceived += (_, e) => atServer.Add(e.Message.Text);
        var log = new List<string>();
        var options = new LocalWebSocketClientOptions();
        options.Interceptors.Add(new Tagger("A", log));
        options.Interceptors.Add(new Tagger("B", log));
        await using var client = new LocalWebSocketClient(options);
        var received = new Probe<string>();
        client.MessageReceived += (_, m) => received.Add(m.Text);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await client.SendAsync("drop me");
        await client.SendAsync("x");
        Assert.Equal(["xAB"], await atServer.WaitForCountAsync(1));

        // The send interceptors ran inside the awaited sends; nothing else writes the log until the server sends.
        log.Clear();

        server.SendToAll("the secret");
        server.SendToAll("y");
        Assert.Equal(["yBA"], await received.WaitForCountAsync(1));
        Assert.Equal(["receive B", "receive B", "receive A"], log);
    }

    [Fact]
    public async Task Metrics_count_real_bytes_and_messages_both_ways()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var client = new LocalWebSocketClient();
        var received = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => received.Add(m);
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await client.SendAsync("héllo");
        await client.SendAsync(new byte[] { 1, 2, 3 }.AsMemory());
        await received.WaitForCountAsync(2);

        var metrics = client.GetStatistics();
        Assert.Equal(2, metrics.MessagesSent);
        Assert.Equal(9, metrics.BytesSent);
        Assert.Equal(2, metrics.MessagesReceived);
        Assert.Equal(9, metrics.BytesReceived);
        Assert.Equal(1, metrics.Connects);
        Assert.Equal(ConnectionState.Connected, metrics.State);
        Assert.NotNull(metrics.LastConnectedAt);
        Assert.Equal(client.Url, metrics.Url);
    }

    [Fact]
    public async Task Compression_is_negotiated_with_a_python_websockets_server_and_declined_by_ours()
    {
        await using var peer = PeerProcess.Start(PeerProcess.Python, "py_echo_server.py", "30");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        var options = new LocalWebSocketClientOptions { DangerousDeflateOptions = new WebSocketDeflateOptions() };
        await using var compressed = new LocalWebSocketClient(options);
        var echoed = new Probe<WebSocketMessage>();
        compressed.MessageReceived += (_, m) => echoed.Add(m);

        await compressed.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
        var text = string.Concat(Enumerable.Repeat("compress me well, ", 5000));
        await compressed.SendAsync(text);
        await compressed.SendAsync(new byte[] { 9, 8, 7 }.AsMemory());

        var got = await echoed.WaitForCountAsync(2);
        Assert.StartsWith("permessage-deflate", compressed.Extensions, StringComparison.Ordinal);
        Assert.Equal(text, got[0].Text);
        Assert.Equal(new byte[] { 9, 8, 7 }, got[1].ToArray());

        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var declined = new LocalWebSocketClient(options);
        var back = new Probe<string>();
        declined.MessageReceived += (_, m) => back.Add(m.Text);
        await declined.ConnectAsync(server.WebSocketUrl).Within();
        await declined.SendAsync("plain");
        Assert.Equal(["plain"], await back.WaitForCountAsync(1));
        Assert.Null(declined.Extensions);
    }

    [Fact]
    public async Task Our_client_reconnects_to_an_independent_python_server_that_restarts_on_the_same_port()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        var first = PeerProcess.Start(PeerProcess.Python, "py_echo_server.py", "30", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await first.WaitForLineAsync("listening ");
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(100)),
            OfflineSendMode = OfflineSendMode.Queue,
        });
        var states = new Probe<ConnectionState>();
        var echoed = new Probe<string>();
        client.StateChanged += (_, e) => states.Add(e.State);
        client.MessageReceived += (_, m) => echoed.Add(m.Text);
        await client.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
        await client.SendAsync("one");
        await echoed.WaitForCountAsync(1);

        await first.DisposeAsync();
        await states.WaitUntilAsync(s => s.Contains(ConnectionState.Reconnecting));
        var queued = client.SendAsync("two").AsTask();
        await using var second = PeerProcess.Start(PeerProcess.Python, "py_echo_server.py", "30", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await second.WaitForLineAsync("listening ");
        await queued.Within();

        Assert.Equal(["one", "two"], await echoed.WaitForCountAsync(2));
        await states.WaitUntilAsync(s => s.Contains(ConnectionState.Reconnected));
    }

    [Fact]
    public async Task The_fake_client_lets_application_code_be_tested_without_a_network()
    {
        await using var fake = new FakeLocalWebSocketClient();
        var app = new ChatViewModel(fake);

        await fake.ConnectAsync(new Uri("ws://fake/ws"));
        await app.SayAsync("hi");
        fake.InjectMessage("hello back");
        fake.InjectState(ConnectionState.Reconnecting, WebSocketCloseStatus.EndpointUnavailable);

        Assert.Equal(["hi"], fake.SentMessages.Select(m => m.Text));
        Assert.Equal(["hello back"], app.Lines);
        Assert.Equal("offline", app.Status);
        await Assert.ThrowsAsync<LocalWebSocketException>(() => app.SayAsync("lost").AsTask());
        fake.NextConnectError = new LocalWebSocketException(LocalWebSocketErrorCode.AuthenticationFailed, "nope", 403);
        await Assert.ThrowsAsync<LocalWebSocketException>(() => fake.ConnectAsync(new Uri("ws://fake/ws")));
    }

    [Fact]
    public async Task Code_against_the_interface_closes_with_its_own_code_on_the_real_client_and_on_the_fake()
    {
        await using var server = await TestServers.StartAsync();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var real = new LocalWebSocketClient();
        await using var fake = new FakeLocalWebSocketClient();
        await real.ConnectAsync(server.WebSocketUrl).Within();
        await fake.ConnectAsync(new Uri("ws://fake/ws"));
        var fakeStates = new List<ConnectionStateChangedEventArgs>();
        fake.StateChanged += (_, e) => fakeStates.Add(e);

        foreach (ILocalWebSocketClient client in new ILocalWebSocketClient[] { real, fake })
        {
            // The same checks on both: a test with the fake catches what the real client would refuse.
            Assert.Throws<ArgumentOutOfRangeException>("closeStatus", () => { _ = client.DisconnectAsync((WebSocketCloseStatus)1006, null, CancellationToken.None); });
            Assert.Throws<ArgumentException>("reason", () => { _ = client.DisconnectAsync((WebSocketCloseStatus)4001, new string('r', 124), CancellationToken.None); });
            Assert.True(client.IsConnected);
            await client.DisconnectAsync((WebSocketCloseStatus)4001, "game over", CancellationToken.None).Within();
            Assert.Equal(ConnectionState.Disconnected, client.State);
        }

        var gone = Assert.Single(await left.WaitForCountAsync(1));
        Assert.Equal((WebSocketCloseStatus)4001, gone.CloseStatus);
        Assert.Equal("game over", gone.CloseDescription);
        Assert.Equal([ConnectionState.Disconnecting, ConnectionState.Disconnected], fakeStates.Select(e => e.State));
        Assert.Equal((WebSocketCloseStatus)4001, fakeStates[^1].CloseStatus);
        Assert.Equal("game over", fakeStates[^1].CloseDescription);
    }

    /// <summary>Application code as a user would write it, against the interface.</summary>
    private sealed class ChatViewModel
    {
        private readonly ILocalWebSocketClient _client;

        public ChatViewModel(ILocalWebSocketClient client)
        {
            _client = client;
            client.MessageReceived += (_, m) => Lines.Add(m.Text);
            client.StateChanged += (_, e) => Status = e.State is ConnectionState.Connected or ConnectionState.Reconnected ? "online" : "offline";
        }

        public List<string> Lines { get; } = [];

        public string Status { get; private set; } = "offline";

        public ValueTask SayAsync(string text) => _client.SendAsync(text);
    }
}
