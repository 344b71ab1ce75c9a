using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>
/// The interop matrix: our server with independent clients and our client with independent servers, each
/// pair through the same checks (text, binary, 0 B, 1 MiB, fragmented input, ping/pong, close codes and
/// reasons both ways, permessage-deflate). <c>tests/interop/matrix.py</c> writes the README's table from the
/// results; a pair a peer cannot run (its API has no way to send a ping, say) is not listed here, and the
/// table gives the reason.
/// </summary>
[Collection(nameof(InteropMatrixTests))]
public sealed class InteropMatrixTests
{
    private const string Text = "héllo ✓ 😀 漢字 שלום";
    private static readonly byte[] Binary = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
    private static readonly byte[] Mebibyte = [.. Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 31 % 251))];
    private static readonly string Compressible = string.Concat(Enumerable.Repeat("local websocket ", 65536));

    private static readonly string[] AllChecks = ["text", "binary", "empty", "1mib", "fragmented", "ping", "close-by-client", "close-by-server", "deflate"];

    /// <summary>Client peers and the checks each can run against our server.</summary>
    public static TheoryData<string, string> ClientPeers() => Pairs(
        ("python-websockets", AllChecks),
        ("node-ws", AllChecks),
        // A page's WebSocket API cannot fragment a message or send a ping.
        ("chromium", [.. AllChecks.Except(["fragmented", "ping"])]),
        // ClientWebSocket cannot send a ping of its own.
        ("dotnet-clientwebsocket", [.. AllChecks.Except(["ping"])]),
        // libwebsockets' test client sends what it sends (short drawing commands on lws-mirror-protocol).
        ("libwebsockets", ["text", "close-by-server", "deflate"]));

    /// <summary>Server peers and the checks each can run with our client.</summary>
    public static TheoryData<string, string> ServerPeers() => Pairs(
        ("python-websockets", AllChecks),
        ("node-ws", AllChecks),
        // ASP.NET Core's WebSocket cannot send a ping of its own.
        ("kestrel", [.. AllChecks.Except(["ping"])]),
        // libwebsockets' test server mirrors what it gets as text (binary too), up to its 4 KiB buffer, and
        // takes no requests.
        ("libwebsockets", ["text", "close-by-client"]));

    private static TheoryData<string, string> Pairs(params (string Peer, string[] Checks)[] peers)
    {
        var data = new TheoryData<string, string>();
        foreach (var (peer, checks) in peers)
        {
            foreach (var check in checks)
            {
                data.Add(peer, check);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ClientPeers))]
    public async Task Our_server_with(string client, string check)
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.Routing = RoutingMode.Echo;
            o.SubProtocols.Add("lws-mirror-protocol");
            if (check == "deflate")
            {
                o.DangerousDeflateOptions = new WebSocketDeflateOptions();
            }
        });
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        var received = new Probe<string>();
        server.MessageReceived += (_, e) =>
        {
            received.Add(e.Message.IsBinary ? $"{e.Message.Data.Length} B" : e.Message.Text);
            if (!e.Message.IsBinary && e.Message.Text == "close me")
            {
                _ = e.Client.DisconnectAsync((WebSocketCloseStatus)4001, "server bye");
            }
        };
        var url = server.WebSocketUrl.ToString();

        var result = client switch
        {
            "python-websockets" => await RunPeerAsync(PeerProcess.Python, "interop_py.py", check, url),
            "node-ws" => await RunPeerAsync("node", "interop_node.js", check, url),
            "chromium" => await RunInChromiumAsync(check, server.Address, url),
            "dotnet-clientwebsocket" => await RunClientWebSocketAsync(check, server.WebSocketUrl),
            "libwebsockets" => await RunLibwebsocketsClientAsync(check, server, received),
            _ => throw new ArgumentOutOfRangeException(nameof(client)),
        };

        Assert.Equal("PASS " + check, result);
        var gone = (await left.WaitForCountAsync(1))[0];
        switch (check)
        {
            case "close-by-client":
                Assert.Equal((WebSocketCloseStatus)4000, gone.CloseStatus);
                Assert.Equal("client bye", gone.CloseDescription);
                break;
            case "close-by-server":
                Assert.Equal((WebSocketCloseStatus)4001, gone.CloseStatus);
                break;
            default:
                Assert.Equal(0, server.GetStatistics().MessagesRejected);
                break;
        }
    }

    [Theory]
    [MemberData(nameof(ServerPeers))]
    public async Task Our_client_with(string server, string check)
    {
        await using var peer = await ServerPeer.StartAsync(server);
        var options = new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None };
        if (peer.SubProtocol is { } subProtocol)
        {
            options.SubProtocols.Add(subProtocol);
        }

        if (check == "deflate")
        {
            options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        }

        await using var client = new LocalWebSocketClient(options);
        var got = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => got.Add(m);
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(peer.Url).Within();

        async Task RoundTripAsync(WebSocketMessage message)
        {
            var before = got.Items.Count;
            await client.SendAsync(message);
            var back = (await got.WaitForCountAsync(before + 1))[before];
            Assert.Equal(message.IsBinary, back.IsBinary);
            Assert.True(message.Data.Span.SequenceEqual(back.Data.Span), $"{message.Data.Length} B sent, {back.Data.Length} B back");
        }

        async Task<string> AskAsync(string request)
        {
            var before = got.Items.Count;
            await client.SendAsync(request);
            return (await got.WaitForCountAsync(before + 1))[before].Text;
        }

        switch (check)
        {
            case "text":
                await RoundTripAsync(WebSocketMessage.FromText(Text));
                break;
            case "binary":
                await RoundTripAsync(WebSocketMessage.FromBytes(Binary));
                break;
            case "empty":
                await RoundTripAsync(WebSocketMessage.FromText(""));
                await RoundTripAsync(WebSocketMessage.FromBytes([]));
                break;
            case "1mib":
                await RoundTripAsync(WebSocketMessage.FromBytes(Mebibyte));
                break;
            case "fragmented":
                Assert.Equal("fragmented reply ✓", await AskAsync("fragment please"));
                break;
            case "ping":
                // The peer pings with a payload; its "pong ..." reply says our pong carried the payload back.
                Assert.Equal("pong ping-456", await AskAsync("ping please"));
                break;
            case "close-by-client":
                await client.DisconnectAsync((WebSocketCloseStatus)4000, "client bye", CancellationToken.None).Within();
                await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
                Assert.Equal((WebSocketCloseStatus)4000, states.Items[^1].CloseStatus);   // the server answered with our code
                if (peer.PrintsCloses)
                {
                    Assert.Equal("CLOSED 4000 client bye", await peer.WaitForLineAsync("CLOSED "));
                }

                break;
            case "close-by-server":
                await client.SendAsync("close 4002 server bye");
                await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
                Assert.Equal((WebSocketCloseStatus)4002, states.Items[^1].CloseStatus);
                Assert.Equal("server bye", states.Items[^1].CloseDescription);
                break;
            case "deflate":
                Assert.StartsWith("permessage-deflate", client.Extensions, StringComparison.Ordinal);
                Assert.StartsWith("EXT permessage-deflate", await peer.WaitForLineAsync("EXT "), StringComparison.Ordinal);
                await RoundTripAsync(WebSocketMessage.FromText(Compressible));
                await RoundTripAsync(WebSocketMessage.FromBytes(Mebibyte));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(check));
        }
    }

    /// <summary>
    /// libwebsockets' test client on lws-mirror-protocol: it sends drawing commands, reads their echoes and
    /// exits once the connection closes. It always asks for <c>/</c>, so a relay puts <c>/ws</c> in the
    /// request line; the frames are its own.
    /// </summary>
    private static async Task<string> RunLibwebsocketsClientAsync(string check, LocalWebSocketServer server, Probe<string> received)
    {
        await using var proxy = new PathRewritingProxy(server.Port, "/", "/ws");
        await using var peer = PeerProcess.StartRaw("sh", "-c", $"exec libwebsockets-test-client 127.0.0.1 --port={proxy.Port} --justmirror --once -d 7 2>&1");
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the libwebsockets client joined");
        var client = server.Clients[0];
        Assert.Equal("lws-mirror-protocol", client.SubProtocol);

        // Each message goes back to it as it arrives (echo mode); after 20 (1 for close-by-server), the
        // client must still answer our close with our code: a frame it could not read would have failed it first.
        var messages = await received.WaitForCountAsync(check == "close-by-server" ? 1 : 20);
        Assert.All(messages, m => Assert.Matches(@"^c #[0-9A-F]{6} \d+ \d+ \d+;$", m));
        await client.DisconnectAsync((WebSocketCloseStatus)4001, "server bye").Within();
        Assert.Equal(0, await peer.WaitForExitAsync());
        Assert.Contains("mirror: LWS_CALLBACK_CLOSED", peer.Output, StringComparison.Ordinal);
        if (check == "deflate")
        {
            Assert.Contains("instantiating client ext permessage-deflate", peer.Output, StringComparison.Ordinal);
        }

        return "PASS " + check;
    }

    private static async Task<string> RunPeerAsync(string program, string script, string check, string url)
    {
        var (exitCode, output, errors) = await PeerProcess.RunAsync(program, script, "client", check, url);
        var verdict = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("PASS ", StringComparison.Ordinal) || l.StartsWith("FAIL ", StringComparison.Ordinal));
        return exitCode == 0 ? verdict ?? output : $"{verdict} (exit {exitCode}) {errors}";
    }

    /// <summary>The check in a page of Debian's Chromium, through the browser's own WebSocket.</summary>
    private static async Task<string> RunInChromiumAsync(string check, Uri origin, string url)
    {
        await using var browser = await BrowserPeer.LaunchAsync();
        // A page of the server's own origin (its details document), as the web client is: Chromium's
        // local network access rules keep a page from elsewhere (about:blank included) off loopback.
        await browser.OpenAsync("page", origin.ToString());
        var script = $$"""
            (async (url, check) => {
              const TEXT = {{JsonSerializer.Serialize(Text)}};
              const BINARY = Uint8Array.from({ length: 256 }, (_, i) => i);
              const MIB = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) % 251);
              const COMPRESSIBLE = 'local websocket '.repeat(65536);
              const ws = new WebSocket(url);
              ws.binaryType = 'arraybuffer';
              const queue = []; let wake = null;
              ws.onmessage = e => { queue.push(e.data); if (wake) wake(); };
              const closed = new Promise(r => { ws.onclose = r; });
              await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('connection error')); });
              const next = async () => { while (!queue.length) await new Promise(r => { wake = r; }); return queue.shift(); };
              const same = (a, b) => typeof a === 'string' ? a === b
                : b instanceof ArrayBuffer && b.byteLength === a.length && new Uint8Array(b).every((x, i) => x === a[i]);
              const roundTrip = async m => {
                ws.send(m);
                const back = await next();
                if (!same(m, back)) throw new Error(`sent ${typeof m} of ${m.length}, got ${typeof back} of ${back.length ?? back.byteLength}`);
              };
              switch (check) {
                case 'text': await roundTrip(TEXT); break;
                case 'binary': await roundTrip(BINARY); break;
                case 'empty': await roundTrip(''); await roundTrip(new Uint8Array(0)); break;
                case '1mib': await roundTrip(MIB); break;
                case 'close-by-client': { ws.close(4000, 'client bye'); const e = await closed; if (e.code !== 4000) throw new Error('close ' + e.code); break; }
                case 'close-by-server': {
                  ws.send('close me'); const e = await closed;
                  if (e.code !== 4001 || e.reason !== 'server bye') throw new Error(`close ${e.code} ${e.reason}`); break;
                }
                case 'deflate':
                  if (!ws.extensions.startsWith('permessage-deflate')) throw new Error('extensions: ' + ws.extensions);
                  await roundTrip(COMPRESSIBLE); await roundTrip(MIB); break;
                default: throw new Error('unknown check ' + check);
              }
              return 'PASS ' + check;
            })({{JsonSerializer.Serialize(url)}}, {{JsonSerializer.Serialize(check)}}).catch(e => 'FAIL ' + e.message)
            """;
        var timeout = "new Promise(r => setTimeout(() => r('FAIL timeout'), 10000))";
        return (await browser.EvaluateAsync("page", $"Promise.race([{script}, {timeout}])")).GetString()!;
    }

    /// <summary>The check with .NET's own <see cref="ClientWebSocket"/>, which shares no code with our client.</summary>
    private static async Task<string> RunClientWebSocketAsync(string check, Uri url)
    {
        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TestServers.Timeout);
        var token = timeout.Token;
        socket.Options.CollectHttpResponseDetails = true;
        if (check == "deflate")
        {
            socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        }

        await socket.ConnectAsync(url, token);

        async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAsync()
        {
            using var message = new MemoryStream();
            var buffer = new byte[64 * 1024];
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(), token);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            return (result.MessageType, message.ToArray());
        }

        async Task RoundTripAsync(WebSocketMessageType type, byte[] data)
        {
            await socket.SendAsync(data, type, true, token);
            var (backType, back) = await ReceiveAsync();
            Assert.Equal(type, backType);
            Assert.True(data.AsSpan().SequenceEqual(back), $"{data.Length} B sent, {back.Length} B back");
        }

        async Task<(WebSocketMessageType Type, byte[] Data)> UntilCloseAsync()
        {
            (WebSocketMessageType Type, byte[] Data) received;
            do
            {
                received = await ReceiveAsync();
            }
            while (received.Type != WebSocketMessageType.Close);
            return received;
        }

        switch (check)
        {
            case "text":
                await RoundTripAsync(WebSocketMessageType.Text, Encoding.UTF8.GetBytes(Text));
                break;
            case "binary":
                await RoundTripAsync(WebSocketMessageType.Binary, Binary);
                break;
            case "empty":
                await RoundTripAsync(WebSocketMessageType.Text, []);
                await RoundTripAsync(WebSocketMessageType.Binary, []);
                break;
            case "1mib":
                await RoundTripAsync(WebSocketMessageType.Binary, Mebibyte);
                break;
            case "fragmented":
                await socket.SendAsync("frag"u8.ToArray(), WebSocketMessageType.Text, false, token);
                await socket.SendAsync("men"u8.ToArray(), WebSocketMessageType.Text, false, token);
                await socket.SendAsync(Encoding.UTF8.GetBytes("ted ✓"), WebSocketMessageType.Text, true, token);
                var (type, whole) = await ReceiveAsync();
                Assert.Equal(WebSocketMessageType.Text, type);
                Assert.Equal("fragmented ✓", Encoding.UTF8.GetString(whole));
                break;
            case "close-by-client":
                await socket.CloseAsync((WebSocketCloseStatus)4000, "client bye", token);
                Assert.Equal((WebSocketCloseStatus)4000, socket.CloseStatus);
                break;
            case "close-by-server":
                await socket.SendAsync("close me"u8.ToArray(), WebSocketMessageType.Text, true, token);
                await UntilCloseAsync();
                Assert.Equal((WebSocketCloseStatus)4001, socket.CloseStatus);
                Assert.Equal("server bye", socket.CloseStatusDescription);
                break;
            case "deflate":
                Assert.StartsWith("permessage-deflate", socket.HttpResponseHeaders!["Sec-WebSocket-Extensions"].Single(), StringComparison.Ordinal);
                await RoundTripAsync(WebSocketMessageType.Text, Encoding.UTF8.GetBytes(Compressible));
                await RoundTripAsync(WebSocketMessageType.Binary, Mebibyte);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(check));
        }

        if (socket.State == WebSocketState.Open)
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, token);
        }

        return "PASS " + check;
    }

    /// <summary>An independent echo server: a peer process (Python, Node) or Kestrel in this process.</summary>
    private sealed class ServerPeer : IAsyncDisposable
    {
        private PeerProcess? _process;
        private KestrelEchoPeer? _kestrel;

        public Uri Url { get; private set; } = null!;

        /// <summary>The subprotocol the server wants (libwebsockets' test server: its mirror).</summary>
        public string? SubProtocol { get; private set; }

        /// <summary>Whether the server reports each close with its code and reason (not libwebsockets').</summary>
        public bool PrintsCloses { get; private set; } = true;

        public static async Task<ServerPeer> StartAsync(string name)
        {
            var peer = new ServerPeer();
            if (name == "kestrel")
            {
                peer._kestrel = await KestrelEchoPeer.StartAsync();
                peer.Url = new Uri($"ws://127.0.0.1:{peer._kestrel.Port}/ws");
                return peer;
            }

            if (name == "libwebsockets")
            {
                // It prints no port of its own: take a free one. It binds lo only (--interface=lo), and the
                // OPERATIONAL line comes once its listening socket is made.
                var free = FreePort();
                peer._process = PeerProcess.StartRaw("sh", "-c", $"exec timeout 60 libwebsockets-test-server --port={free} --interface=lo -d 15 2>&1");
                await peer._process.WaitForLineContainingAsync("-> OPERATIONAL");
                (peer.Url, peer.SubProtocol, peer.PrintsCloses) = (new Uri($"ws://127.0.0.1:{free}/"), "lws-mirror-protocol", false);
                return peer;
            }

            peer._process = name switch
            {
                "python-websockets" => PeerProcess.Start(PeerProcess.Python, "interop_py.py", "server", "60"),
                "node-ws" => PeerProcess.Start("node", "interop_node.js", "server", "60"),
                _ => throw new ArgumentOutOfRangeException(nameof(name)),
            };
            var port = (await peer._process.WaitForLineAsync("listening ")).Split(' ')[1];
            peer.Url = new Uri($"ws://127.0.0.1:{port}/ws");
            return peer;
        }

        /// <summary>The first line the server printed (or recorded) that starts with <paramref name="prefix"/>.</summary>
        public async Task<string> WaitForLineAsync(string prefix)
        {
            if (_process is not null)
            {
                return await _process.WaitForLineAsync(prefix);
            }

            await _kestrel!.Lines.WaitUntilAsync(l => l.Any(x => x.StartsWith(prefix, StringComparison.Ordinal)));
            return _kestrel.Lines.Items.First(x => x.StartsWith(prefix, StringComparison.Ordinal));
        }

        private static int FreePort()
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }

            if (_kestrel is not null)
            {
                await _kestrel.DisposeAsync();
            }
        }
    }
}
