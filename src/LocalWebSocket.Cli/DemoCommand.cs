using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Server;

namespace LocalWebSocket.Cli;

/// <summary>
/// <c>lws demo</c>: a server on loopback and two clients with details exchanging text, JSON and binary in
/// broadcast mode, with the details document read over HTTP. Every step waits for its signal with a
/// time limit, so the demo either shows everything working or says what did not.
/// </summary>
internal static class DemoCommand
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);

    public static readonly CommandSpec Spec = new(
        "demo",
        "",
        "Starts a server on loopback, discovers it, and shows two clients talking.",
        """
        Everything stays on 127.0.0.1: the server, its mDNS advertisement, the scan of 127.0.0.x and the
        clients. The demo exits 0 only when every step worked, and says which did not otherwise.
        """,
        []);

    public static async Task<int> RunAsync(CommandLine line, CliContext context)
    {
        line.NoPositional();
        await using var log = new Transcript(context.Output, context.Color);
        try
        {
            await RunStepsAsync(log, context.Stop);
            log.Line("demo", "done: everything above worked");
            return 0;
        }
        catch (Exception exception) when (exception is TimeoutException or InvalidOperationException or LocalWebSocketException)
        {
            log.Line("demo", $"FAILED: {exception.Message}");
            return 1;
        }
    }

    private static async Task RunStepsAsync(Transcript log, CancellationToken stop)
    {
        var options = new LocalWebSocketServerOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            Routing = RoutingMode.Broadcast,
            Details = new JsonObject { ["name"] = "LocalWebSocket demo", ["room"] = "lobby", ["maxPlayers"] = 4 },

            // Bound to 127.0.0.1, the advertisement stays on the loopback interface.
            AdvertiseMdns = true,
        };
        await using var server = new LocalWebSocketServer(options);
        server.ClientConnected += (_, e) => log.Line("server", $"+ client {Short(e.Client.Id)} joined with details {Transcript.Describe(e.Client.Details)}");
        server.ClientDisconnected += (_, e) => log.Line("server", $"- client {Short(e.Client.Id)} left with {Transcript.DescribeClose(e.CloseStatus, e.CloseDescription)}");
        server.MessageReceived += (_, e) => log.Line("server", $"relayed from {e.Client.Details["username"]}: {Transcript.Describe(e.Message)}");
        var starting = System.Diagnostics.Stopwatch.StartNew();
        await server.StartAsync(stop);
        log.Line("server", $"listening at {server.WebSocketUrl} (broadcast mode: a message goes to every other client)");
        if (server.AdvertisedServiceName is { } claimed)
        {
            // Most of StartAsync: RFC 6762 section 8 asks for three probes 250 ms apart before a name is used.
            log.Line("mdns", $"advertising \"{claimed}\" as _localws._tcp on loopback, a name claimed by probing (3 probes, 250 ms apart); StartAsync took {starting.ElapsedMilliseconds} ms");
        }

        using (var http = new HttpClient { Timeout = StepTimeout })
        {
            using var response = await http.GetAsync(server.Address, stop);
            var body = await response.Content.ReadAsStringAsync(stop);
            log.Line("http", $"GET {server.Address} -> {(int)response.StatusCode}, Server: {string.Join(",", response.Headers.GetValues("Server"))}");
            log.Line("http", $"details document: {body}");
        }

        var found = await DiscoverAsync(server, log, stop);
        await using var alice = await ConnectAsync("alice", "laptop", found.Url, log, stop);
        await using var bob = await ConnectAsync("bob", "phone", found.Url, log, stop);
        await WaitForClientsAsync(server, 2, stop);
        log.Line("server", $"clients now: {string.Join(", ", server.Clients.Select(c => c.Details["username"]))}");

        var bobInbox = new Inbox(bob.Client, "bob", log);
        var aliceInbox = new Inbox(alice.Client, "alice", log);

        await Say(log, "alice", "text \"Hello Bob!\"", () => alice.Client.SendAsync("Hello Bob!", stop));
        Expect((await bobInbox.ReadAsync(stop)).Text == "Hello Bob!", "bob got alice's text");

        var chat = new JsonObject { ["type"] = "chat", ["from"] = "bob", ["text"] = "Hi Alice, JSON here", ["at"] = 42 };
        await Say(log, "bob", $"JSON {chat.ToJsonString()}", () => bob.Client.SendAsync(chat.ToJsonString(), stop));
        var json = JsonNode.Parse((await aliceInbox.ReadAsync(stop)).Text)!;
        Expect((string?)json["text"] == "Hi Alice, JSON here", "alice got bob's JSON");
        log.Line("alice", $"  decoded JSON field text = \"{(string?)json["text"]}\"");

        byte[] bytes = [0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0x01];
        await Say(log, "alice", $"binary {Convert.ToHexString(bytes)}", () => alice.Client.SendAsync(bytes.AsMemory(), stop));
        var binary = await bobInbox.ReadAsync(stop);
        Expect(binary.IsBinary && binary.Data.Span.SequenceEqual(bytes), "bob got alice's bytes as binary");

        var announced = server.SendToAll("Server says: thanks for playing");
        log.Line("server", $"announcement queued for {announced} clients");
        Expect((await aliceInbox.ReadAsync(stop)).Text.StartsWith("Server says", StringComparison.Ordinal), "alice got the announcement");
        Expect((await bobInbox.ReadAsync(stop)).Text.StartsWith("Server says", StringComparison.Ordinal), "bob got the announcement");
        Expect(aliceInbox.Count == 0, "alice never got her own messages back (broadcast mode)");

        await alice.Client.DisconnectAsync(stop);
        await bob.Client.DisconnectAsync(stop);
        await WaitForClientsAsync(server, 0, stop);
        await server.StopAsync(stop);
        var stats = server.GetStatistics();
        log.Line("server", $"stopped: {stats.ClientsJoined} clients, {stats.MessagesReceived} messages received, {stats.MessagesSent} delivered");
    }

    private sealed record DemoClient(LocalWebSocketClient Client) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }

    /// <summary>
    /// Finds the demo's own server the way an app would, each way timed from the call to a <c>ws://</c> URL:
    /// mDNS on loopback, then a scan of 127.0.0.x (which finds Dart servers too).
    /// </summary>
    private static async Task<DiscoveredServer> DiscoverAsync(LocalWebSocketServer server, Transcript log, CancellationToken stop)
    {
        if (server.AdvertisedServiceName is null)
        {
            log.Line("mdns", $"server is not advertising: {server.AdvertisingError?.Message}");
        }

        var mdns = new DiscoveryOptions { UseScan = false };
        mdns.MdnsInterfaces.Add(IPAddress.Loopback);
        log.Line("mdns", "looking for the first _localws._tcp service on 127.0.0.1 (FindFirstAsync)");
        var advertised = await FindFirstAsync(mdns, server, log, "mdns", stop);
        if (advertised is null)
        {
            log.Line("mdns", "no answer here; the scan is enough");
        }

        var scan = new DiscoveryOptions { UseMdns = false };
        scan.Scanner.Port = server.Port;
        scan.ScanTargets.Add(ScanTarget.Parse("127.0.0"));

        // On loopback every other address refuses at once, so a long deadline costs nothing and keeps a busy
        // machine (a parallel test run) from missing the one server that answers.
        scan.Scanner.ProbeTimeout = StepTimeout;
        log.Line("scan", $"looking for the first server on 127.0.0.1-254 port {server.Port} (GET /, FindFirstAsync)");
        var scanned = await FindFirstAsync(scan, server, log, "scan", stop);
        if (scanned is null)
        {
            log.Line("scan", $"no answer from 127.0.0.1:{server.Port} within {StepTimeout.TotalSeconds:0} s");
        }

        return advertised ?? scanned ?? throw new InvalidOperationException("expected: discovery finds the demo server");
    }

    private static async Task<DiscoveredServer?> FindFirstAsync(
        DiscoveryOptions options, LocalWebSocketServer server, Transcript log, string source, CancellationToken stop)
    {
        using var discovery = new ServerDiscovery(options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var found = await discovery.FindFirstAsync(candidate => candidate.Port == server.Port, stop);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (discovery.MdnsError is { } error)
        {
            log.Line(source, $"browsing unavailable here ({error.Message})");
        }

        if (found is not null)
        {
            log.Line(source, $"found {CommandLine.UrlText(found.Url)} in {elapsed:0} ms from the call: {found.DetailsJson}");
        }

        return found;
    }

    private static async Task<DemoClient> ConnectAsync(string username, string device, Uri url, Transcript log, CancellationToken stop)
    {
        var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
        {
            Details = { ["username"] = username, ["device"] = device },
            ConnectTimeout = StepTimeout,
        });
        await client.ConnectAsync(url, stop);
        log.Line(username, $"connected to {CommandLine.UrlText(client.Url)}");
        return new DemoClient(client);
    }

    private static async Task Say(Transcript log, string who, string what, Func<ValueTask> send)
    {
        log.Line(who, $"sends {what}");
        await send();
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"expected: {what}");
        }
    }

    private static async Task WaitForClientsAsync(LocalWebSocketServer server, int count, CancellationToken stop)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EventHandler<ClientsChangedEventArgs> onChange = (_, e) =>
        {
            if (e.Clients.Count == count)
            {
                reached.TrySetResult();
            }
        };
        server.ClientsChanged += onChange;
        try
        {
            if (server.Clients.Count == count)
            {
                return;
            }

            await reached.Task.WaitAsync(StepTimeout, stop);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the server did not reach {count} clients within {StepTimeout.TotalSeconds} s");
        }
        finally
        {
            server.ClientsChanged -= onChange;
        }
    }

    private static string Short(string id) => id[^8..];
}

/// <summary>What one demo client receives, read in order with a time limit per message.</summary>
internal sealed class Inbox
{
    private readonly System.Threading.Channels.Channel<WebSocketMessage> _messages =
        System.Threading.Channels.Channel.CreateUnbounded<WebSocketMessage>();

    public Inbox(LocalWebSocketClient client, string name, Transcript log) =>
        client.MessageReceived += (_, message) =>
        {
            log.Line(name, $"received {Transcript.Describe(message)}");
            _messages.Writer.TryWrite(message);
        };

    public int Count => _messages.Reader.Count;

    public async Task<WebSocketMessage> ReadAsync(CancellationToken stop)
    {
        try
        {
            return await _messages.Reader.ReadAsync(stop).AsTask().WaitAsync(TimeSpan.FromSeconds(10), stop);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("no message arrived within 10 s");
        }
    }
}
