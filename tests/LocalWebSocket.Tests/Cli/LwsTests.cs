using System.Net.WebSockets;
using LocalWebSocket.Cli;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Cli;

public sealed class LwsTests
{
    private static Task<int> RunAsync(LineWriter output, TextReader? input = null, params string[] args) =>
        Lws.RunAsync(args, output, output, input ?? TextReader.Null);

    private static Task<int> RunAsync(LineWriter output, CancellationToken stop, params string[] args) =>
        Lws.RunAsync(args, output, output, TextReader.Null, stop);

    [Fact]
    public async Task Demo_exits_0_with_a_transcript_of_every_step()
    {
        var output = new LineWriter();

        var exitCode = await RunAsync(output, null, "demo").Within();

        Assert.Equal(0, exitCode);
        var text = output.Text;
        Assert.Contains("Server: local-websocket/1.0.0", text, StringComparison.Ordinal);
        Assert.Contains("""details document: {"name":"LocalWebSocket demo","room":"lobby","maxPlayers":4}""", text, StringComparison.Ordinal);
        Assert.Contains("bob     received text \"Hello Bob!\"", text, StringComparison.Ordinal);
        Assert.Contains("decoded JSON field text = \"Hi Alice, JSON here\"", text, StringComparison.Ordinal);
        Assert.Contains("bob     received binary 6 bytes: CAFEBABE0001", text, StringComparison.Ordinal);
        Assert.Contains("done: everything above worked", text, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Count(text, @"- client [0-9a-f]+ left with 1000\r?$", System.Text.RegularExpressions.RegexOptions.Multiline));
        Assert.Matches(@"mdns +found ws://127\.0\.0\.1:\d+/ws in \d+ ms from the call", text);
        Assert.Matches(@"scan +found ws://127\.0\.0\.1:\d+/ws in \d+ ms from the call", text);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("serve", "--port", "99999")]
    [InlineData("serve", "--port")]
    [InlineData("serve", "--host", "example.org")]
    [InlineData("serve", "--detail", "novalue")]
    [InlineData("serve", "--unknown")]
    [InlineData("connect")]
    [InlineData("connect", "http://127.0.0.1:1/ws")]
    [InlineData("demo", "extra")]
    [InlineData("connect", "ws://127.0.0.1:1/ws", "--reconnect", "sometimes")]
    [InlineData("scan", "10.0.0.0/8")]
    [InlineData("scan", "--interface", "no-such-interface")]
    [InlineData("scan", "--mdns", "--no-mdns")]
    [InlineData("serve", "--interface", "no-such-interface")]
    [InlineData("serve", "--rate", "fast")]
    [InlineData("serve", "--cert", "/nonexistent/cert.pfx")]
    [InlineData("connect", "wss://127.0.0.1:1/ws", "--pin", "abc")]
    public async Task Wrong_command_lines_exit_2_with_a_reason(params string[] args)
    {
        var output = new LineWriter();

        var exitCode = await RunAsync(output, null, args).Within();

        Assert.Equal(2, exitCode);
        var error = Assert.Single(output.Lines.Items);
        Assert.Matches(@"^lws( [a-z]+)?: .+\. See 'lws( [a-z]+)? --help'\.$", error);
    }

    [Fact]
    public async Task Serve_counts_clients_that_join_and_leave_at_the_same_time_one_by_one()
    {
        var output = new LineWriter();
        using var stop = new CancellationTokenSource();
        var serving = RunAsync(output, stop.Token, "serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--duration", "60");
        var listening = await output.WaitForLineAsync("listening on 127.0.0.1:");
        var url = $"ws://127.0.0.1:{listening[(listening.LastIndexOf(':') + 1)..].Split(' ')[0]}/ws";

        var clients = Enumerable.Range(0, 4).Select(_ => new LocalWebSocket.Client.LocalWebSocketClient()).ToArray();
        await Task.WhenAll(clients.Select(c => c.ConnectAsync(url))).Within();
        await output.WaitForLineAsync("(4 connected)");
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask())).Within();
        await output.WaitForLineAsync("(0 connected)");
        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());

        // Each count once, in order: joins 1 to 4, then leaves 3 down to 0.
        var counts = output.Lines.Items
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"\((\d+) connected\)$"))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal([1, 2, 3, 4, 3, 2, 1, 0], counts);
    }

    [Fact]
    public async Task Serve_logs_connections_and_messages_and_requires_the_token()
    {
        var output = new LineWriter();
        using var stop = new CancellationTokenSource();
        var serving = RunAsync(output, stop.Token, "serve", "--host", "127.0.0.1", "--port", "0", "--detail", "name=cli test", "--token", "s3", "--duration", "60");
        var listening = await output.WaitForLineAsync("listening on 127.0.0.1:");
        var port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..].Split(' ')[0]);

        var details = await RawConnection.ExchangeAsync(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var refused = await RawConnection.ExchangeAsync(port, RawConnection.Upgrade());
        await using (var client = new LocalWebSocket.Client.LocalWebSocketClient(new() { Details = { ["token"] = "s3", ["name"] = "ann" } }))
        {
            await client.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
            await client.SendAsync("hello serve");
            await output.WaitForLineAsync("text \"hello serve\"");
        }

        // A close without a reason: the code alone, then the count.
        Assert.EndsWith(" left with 1000 (0 connected)", await output.WaitForLineAsync(" left with 1000"), StringComparison.Ordinal);
        Assert.EndsWith("""{"name":"cli test"}""", details, StringComparison.Ordinal);
        Assert.Equal(401, RawConnection.StatusOf(refused));
        Assert.Contains("{name=ann}", await output.WaitForLineAsync("+ "), StringComparison.Ordinal);
        Assert.False(serving.IsCompleted);
        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());
        Assert.Contains("stopped: 1 clients joined, 1 messages received, 0 sent, 0 dropped, 0 slow clients closed", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_quiet_logs_no_line_per_event_but_still_counts_them()
    {
        var output = new LineWriter();
        using var stop = new CancellationTokenSource();
        var serving = RunAsync(output, stop.Token, "serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--quiet", "--echo", "--duration", "60");
        var listening = await output.WaitForLineAsync("listening on 127.0.0.1:");
        var port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..].Split(' ')[0]);
        await using (var client = new LocalWebSocket.Client.LocalWebSocketClient())
        {
            await client.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
            var echoed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.MessageReceived += (_, message) => echoed.TrySetResult(message.Text);
            await client.SendAsync("quiet please");
            Assert.Equal("quiet please", await echoed.Task.Within());
        }

        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());
        Assert.Contains("stopped: 1 clients joined, 1 messages received, 1 sent", output.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(output.Lines.Items, l => l.Contains("quiet please", StringComparison.Ordinal) || l.Contains(" left with ", StringComparison.Ordinal) || l.Contains("] server  + ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_web_prints_the_pages_address_which_answers_the_page()
    {
        var output = new LineWriter();
        using var stop = new CancellationTokenSource();
        var serving = RunAsync(output, stop.Token, "serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--web", "--duration", "60");
        var page = await output.WaitForLineAsync("web client: http://127.0.0.1:");
        var url = page[(page.IndexOf("http://", StringComparison.Ordinal))..].Split(' ')[0];
        using var http = new HttpClient();

        var html = await http.GetStringAsync(url).WaitAsync(TestServers.Timeout);

        Assert.EndsWith("/app", url, StringComparison.Ordinal);
        Assert.Contains("new WebSocket(", html, StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());
    }

    [Fact]
    public async Task Scan_once_prints_json_lines_for_servers_found_by_scan_and_mdns()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new System.Text.Json.Nodes.JsonObject { ["name"] = "cli scan" };
        });
        var output = new LineWriter();

        var exitCode = await RunAsync(output, null, "scan", "127.0.0.1", "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--interface", "127.0.0.1", "--once", "--json").Within();

        Assert.Equal(0, exitCode);
        // A line as each source finds it; the last one knows both.
        var line = output.Lines.Items.Last(l => l.Contains(server.WebSocketUrl.ToString(), StringComparison.Ordinal));
        Assert.All(output.Lines.Items, l => Assert.Matches("""^\{"event":"(added|changed)","url":""", l));
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(server.WebSocketUrl.ToString(), json.RootElement.GetProperty("url").GetString());
        Assert.Equal("cli scan", json.RootElement.GetProperty("details").GetProperty("name").GetString());
        Assert.Equal("scan,mdns", json.RootElement.GetProperty("source").GetString());
        Assert.True(json.RootElement.GetProperty("rttMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Scan_once_without_json_prints_a_table_and_watching_reports_arrivals()
    {
        await using var server = await TestServers.StartAsync(o => o.Host = "127.0.15.7");
        var port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var url = server.WebSocketUrl;
        var table = new LineWriter();

        Assert.Equal(0, await RunAsync(table, null, "scan", "127.0.15", "--port", port, "--no-mdns", "--once").Within());
        Assert.StartsWith($"added   {url}  scan", table.Lines.Items[0], StringComparison.Ordinal);
        Assert.Matches(@"^1 server found in \d+\.\d s:$", table.Lines.Items[1]);
        Assert.StartsWith("URL", table.Lines.Items[2], StringComparison.Ordinal);
        Assert.StartsWith(url.ToString(), table.Lines.Items[3], StringComparison.Ordinal);
        Assert.Contains("scan", table.Lines.Items[3], StringComparison.Ordinal);

        var live = new LineWriter();
        using var stop = new CancellationTokenSource();
        var watching = RunAsync(live, stop.Token, "scan", "127.0.15.0/28", "--port", port, "--no-mdns", "--json");
        await live.WaitForLineAsync($$"""{"event":"added","url":"{{url}}",""");
        await server.StopAsync();
        await live.WaitForLineAsync($$"""{"event":"removed","url":"{{url}}",""");
        await stop.CancelAsync();
        Assert.Equal(0, await watching.Within());

        await using var again = await TestServers.StartAsync(o => o.Host = "127.0.15.8");
        var tableLive = new LineWriter();
        using var stopTable = new CancellationTokenSource();
        var watchingTable = RunAsync(tableLive, stopTable.Token, "scan", "127.0.15.8", "--port", again.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-mdns");
        await tableLive.WaitForLineAsync("added");
        await tableLive.WaitForLineAsync("URL");
        await tableLive.WaitForLineAsync(again.WebSocketUrl.ToString() + "  scan");
        await stopTable.CancelAsync();
        Assert.Equal(0, await watchingTable.Within());
    }

    [Fact]
    public async Task Serve_with_tls_max_clients_and_rate_and_connect_with_a_pin()
    {
        var folder = Directory.CreateTempSubdirectory("lws-cli-tls-");
        var previous = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        Environment.SetEnvironmentVariable("XDG_DATA_HOME", folder.FullName);
        try
        {
            var output = new LineWriter();
            using var stop = new CancellationTokenSource();
            var serving = RunAsync(output, stop.Token, "serve", "--host", "127.0.0.1", "--port", "0", "--tls", "--max-clients", "1", "--rate", "2/s", "--no-mdns");
            var listening = await output.WaitForLineAsync("listening on 127.0.0.1:");
            var port = listening[(listening.LastIndexOf(':') + 1)..].Split(' ')[0];
            var fingerprint = (await output.WaitForLineAsync("TLS certificate SHA-256: ")).Split(' ')[^1];
            Assert.True(File.Exists(Path.Combine(folder.FullName, "lws", "server.pfx")));

            var typed = new ScriptedInput();
            var clientOutput = new LineWriter();
            var pinned = Lws.RunAsync(["connect", $"wss://127.0.0.1:{port}/ws", "--pin", fingerprint, "--reconnect", "none"], clientOutput, clientOutput, typed);
            await clientOutput.WaitForLineAsync("connected to wss://");
            for (var i = 0; i < 5; i++)
            {
                typed.Type($"line {i}");
            }

            await output.WaitForLineAsync("text \"line 1\"");
            var second = new LineWriter();
            Assert.Equal(1, await Lws.RunAsync(["connect", $"wss://127.0.0.1:{port}/ws", "--pin", fingerprint, "--reconnect", "none"], second, second, new ScriptedInput()).Within());
            Assert.Contains("ValidationFailed", second.Text, StringComparison.Ordinal);
            var unpinned = new LineWriter();
            Assert.Equal(1, await Lws.RunAsync(["connect", $"wss://127.0.0.1:{port}/ws"], unpinned, unpinned, new ScriptedInput()).Within());
            Assert.Contains("CertificateRejected", unpinned.Text, StringComparison.Ordinal);

            typed.EndInput();
            Assert.Equal(0, await pinned.Within());
            await stop.CancelAsync();
            Assert.Equal(0, await serving.Within());
            Assert.DoesNotContain("text \"line 4\"", output.Text, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_DATA_HOME", previous);
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Connect_sends_typed_lines_prints_what_arrives_and_leaves_at_end_of_input()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        var joined = new Probe<ConnectedClient>();
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        server.ClientDisconnected += (_, e) => left.Add(e);
        var output = new LineWriter();
        var input = new ScriptedInput();

        var connecting = RunAsync(output, input, "connect", server.WebSocketUrl.ToString(), "--detail", "name=typist");
        var client = (await joined.WaitForCountAsync(1))[0];
        input.Type("hello from the keyboard");
        await output.WaitForLineAsync("<       text \"hello from the keyboard\"");
        client.Send(WebSocketMessage.FromBytes([1, 2, 3]));
        await output.WaitForLineAsync("<       binary 3 bytes: 010203");
        input.EndInput();

        Assert.Equal(0, await connecting.Within());
        Assert.Equal("typist", client.Details["name"]);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await left.WaitForCountAsync(1))[0].CloseStatus);
        Assert.Contains(output.Lines.Items, l => l.EndsWith("state   Disconnected (1000)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connect_to_a_closed_port_exits_1_with_the_error_code()
    {
        using var reserved = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        reserved.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var output = new LineWriter();

        var exitCode = await RunAsync(output, null, "connect", $"ws://127.0.0.1:{((System.Net.IPEndPoint)reserved.LocalEndPoint!).Port}/ws").Within();

        Assert.Equal(1, exitCode);
        Assert.Contains("ConnectionFailed: Could not connect", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_json_reports_every_event_as_one_json_object_per_line_across_a_reconnect()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        var output = new LineWriter();
        var input = new ScriptedInput();

        var connecting = RunAsync(output, input, "connect", server.WebSocketUrl.ToString(), "--json", "--reconnect", "constant");
        await joined.WaitForCountAsync(1);
        input.Type("hello");
        await output.WaitForLineAsync("""{"event":"message","type":"text","text":"hello"}""");
        server.SendToAll(WebSocketMessage.FromBytes([0xCA, 0xFE]));
        await output.WaitForLineAsync("""{"event":"message","type":"binary","base64":"yv4="}""");
        await server.StopAsync();
        await output.WaitForLineAsync("""{"event":"state","state":"reconnecting","closeCode":1001,"closeReason":"Server stopping"}""");
        input.Type("while away");
        await output.WaitForLineAsync("""{"event":"error","code":"NotConnected",""");
        await server.StartAsync();
        await output.WaitForLineAsync("""{"event":"state","state":"reconnected"}""");
        input.EndInput();

        Assert.Equal(0, await connecting.Within());
        var lines = output.Lines.Items;
        Assert.Equal("""{"event":"state","state":"connecting"}""", lines[0]);
        Assert.Equal("""{"event":"state","state":"connected"}""", lines[1]);
        Assert.All(lines, l => System.Text.Json.JsonDocument.Parse(l).Dispose());
        Assert.Equal("""{"event":"state","state":"disconnected","closeCode":1000,"closeReason":""}""", lines[^1]);
    }

    [Fact]
    public void Every_reconnect_policy_name_maps_to_a_policy()
    {
        foreach (var name in new[] { "exponential", "jitter", "linear", "constant", "infinite" })
        {
            Assert.NotNull(ConnectCommand.ParsePolicy(name).NextDelay(new LocalWebSocket.Client.ReconnectContext
            {
                Attempt = 1,
                PreviousDelay = TimeSpan.Zero,
                SinceDisconnected = TimeSpan.Zero,
                SinceLastConnected = null,
            }));
        }

        Assert.Same(LocalWebSocket.Client.ReconnectPolicy.None, ConnectCommand.ParsePolicy("none"));
        Assert.Throws<UsageException>(() => ConnectCommand.ParsePolicy("sometimes"));
    }
}
