using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LocalWebSocket;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Testing;

// Every public feature, end to end on loopback, as a native binary would run it. Prints one line per
// step and exits 0 only when every step held.
var steps = 0;
using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
var ct = limit.Token;
try
{
    var folder = Directory.CreateTempSubdirectory("lws-aot-");
    using var certificate = TlsCertificates.LoadOrCreateSelfSigned(Path.Combine(folder.FullName, "server.pfx"));
    Step($"self-signed certificate {TlsCertificates.Fingerprint(certificate)[..16]}...");

    var lifecycle = new Lifecycle();
    var options = new LocalWebSocketServerOptions
    {
        Host = "127.0.0.1",
        Port = 0,
        Routing = RoutingMode.Echo,
        DangerousDeflateOptions = new WebSocketDeflateOptions { ServerMaxWindowBits = 12 },
        Details = new JsonObject { ["name"] = "aot smoke", ["players"] = 0 },
        Certificate = certificate,
        AdvertiseMdns = true,
        RequestAuthenticator = new AllOfAuthenticator(new IpAllowList(["127.0.0.0/8", "::1"]), new QueryTokenAuthenticator(["s3cret"]), new HeaderAuthenticator("X-App", ["aot"])),
        ClientValidator = new AllOfClientValidator(new RequiredDetailValidator("username", 3, 20), new MaxClientsValidator(8)),
        MessageValidator = new AllOfMessageValidator(new RateLimitValidator(1000, TimeSpan.FromSeconds(1)), new MaxSizeValidator(1 << 20)),
        LifecycleHandler = lifecycle,
        SendQueueFullMode = SendQueueFullMode.DropOldest,
        KeepAliveInterval = TimeSpan.FromSeconds(5),
        IdleTimeout = TimeSpan.FromMinutes(5),
    };
    options.Routes.MapGet("/status", (request, _) => ValueTask.FromResult(
        HttpRouteResponse.Json(new JsonObject { ["path"] = request.Path, ["who"] = request.Query.GetValueOrDefault("who") }).WithHeader("Cache-Control", "no-store")));
    await using var server = new LocalWebSocketServer(options);
    var serverMessages = new List<string>();
    server.MessageReceived += (_, e) => { lock (serverMessages) { serverMessages.Add(e.Message.IsText ? e.Message.Text : $"{e.Message.Data.Length} bytes"); } };
    await server.StartAsync(ct);
    Step($"server at {server.WebSocketUrl} ({server.WebSocketUrls.Count} url), advertising {server.AdvertisedServiceName ?? server.AdvertisingError?.Message}");

    using var http = new HttpClient();
    var document = await http.GetStringAsync($"http://127.0.0.1:{server.Port}/", ct);
    Check(JsonNode.Parse(document)!["tlsFingerprint"]!.GetValue<string>() == server.CertificateFingerprint, "details document over plain HTTP carries the fingerprint");
    using var pinned = new HttpClient(new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented is not null && TlsCertificates.Fingerprint(presented) == server.CertificateFingerprint,
    });
    var status = JsonNode.Parse(await pinned.GetStringAsync($"https://127.0.0.1:{server.Port}/status?who=aot", ct))!;
    Check(status["path"]!.GetValue<string>() == "/status" && status["who"]!.GetValue<string>() == "aot", "an app route answers over TLS");

    var discoveryOptions = new DiscoveryOptions { MdnsWait = TimeSpan.FromSeconds(1) };
    discoveryOptions.Scanner.Port = server.Port;
    discoveryOptions.ScanTargets.Add(ScanTarget.Parse("127.0.0.1"));
    discoveryOptions.MdnsInterfaces.Add(IPAddress.Loopback);
    using var discovery = new ServerDiscovery(discoveryOptions);
    var found = (await discovery.FindAsync(ct)).Single(s => s.Port == server.Port);
    Check(found.Url.Scheme == "wss" && found.CertificateFingerprint == server.CertificateFingerprint, $"discovered {found.Url} via {found.Source}");
    await foreach (var pass in discovery.DiscoverAsync(new Progress<ScanProgress>(), ct))
    {
        Check(pass.Added.Count + pass.Changed.Count > 0, "a discovery pass streams what it finds");
        break;
    }

    var states = new List<ConnectionState>();
    var stamp = new Stamp();
    var clientOptions = new LocalWebSocketClientOptions
    {
        Details = { ["username"] = "native", ["token"] = "s3cret" },
        Headers = { ["X-App"] = "aot" },
        PinnedCertificateFingerprint = found.CertificateFingerprint,
        ReconnectPolicy = ReconnectPolicy.Exponential(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)).WithMaxAttempts(20).WithGiveUpAfter(TimeSpan.FromSeconds(30)),
        OfflineSendMode = OfflineSendMode.Queue,
        Interceptors = { stamp },
        PrepareConnection = (request, _) => { request.Details["attempt"] = request.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture); return ValueTask.CompletedTask; },
        AfterConnect = (context, token) => context.SendAsync("hello after connect", token),
        DangerousDeflateOptions = new WebSocketDeflateOptions(),
    };
    await using var client = new LocalWebSocketClient(clientOptions);
    client.StateChanged += (_, e) => { lock (states) { states.Add(e.State); } };
    var echoes = System.Threading.Channels.Channel.CreateUnbounded<WebSocketMessage>();
    client.MessageReceived += (_, m) => echoes.Writer.TryWrite(m);
    var firstStreamed = FirstAsync(server.Messages);
    await client.ConnectAsync(found.Url, ct);
    Check(client.IsConnected && client.Extensions?.StartsWith("permessage-deflate", StringComparison.Ordinal) == true,
        $"connected over TLS to {client.Url!.GetLeftPart(UriPartial.Path)}, compressed ({client.Extensions})");

    await client.SendAsync("text", ct);
    await client.SendAsync(new byte[] { 1, 2, 3 }.AsMemory(), ct);
    await client.SendJsonAsync(new Move("move", 3, 4), SmokeJson.Default.Move, ct);
    await client.SendAsync(WebSocketMessage.FromJson(new Move("jump", 0, 9), SmokeJson.Default.Move), ct);
    var received = new List<WebSocketMessage>();
    for (var i = 0; i < 5; i++)
    {
        received.Add(await echoes.Reader.ReadAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    Check(received[0].Text == "hello after connect" && received[1].Text == "text [stamped]" && received[2].IsBinary && stamp.Received == 5,
        "after-connect, text and binary echoed in order, through the interceptors both ways");
    Check(received[3].Text.Contains("\"kind\":\"move\"", StringComparison.Ordinal) && received[4].Text.Contains("jump", StringComparison.Ordinal), "JSON with source-generated metadata");

    Check((await firstStreamed).Client.Details["username"] == "native", "the server's message stream");

    server.UpdateDetails(details => details["players"] = server.Clients.Count);
    Check(server.Details["players"]!.GetValue<int>() == 1 && server.SendToAll("announcement") == 1, "details updated, announcement queued");
    Check((await echoes.Reader.ReadAsync(ct)).Text == "announcement", "announcement received");

    await client.ReconnectNowAsync(ct);
    await Until(() => { lock (states) { return states.Contains(ConnectionState.Reconnected); } }, "reconnected at once");
    var metrics = client.GetStatistics();
    Check(metrics.MessagesSent >= 5 && metrics.MessagesReceived >= 6, $"client metrics: {metrics.MessagesSent} sent, {metrics.MessagesReceived} received");

    var id = server.Clients[0].Id;
    Check(await server.DisconnectClientAsync(id, WebSocketCloseStatus.PolicyViolation, "bye", ct), "server disconnects a client with 1008");
    await Until(() => { lock (states) { return states[^1] == ConnectionState.Disconnected; } }, "a 1008 is a refusal: no reconnect");
    await Until(() => lifecycle.Connected >= 2 && lifecycle.Disconnected >= 2, "lifecycle hooks ran for both connections");

    var statistics = server.GetStatistics();
    Check(statistics.ClientsJoined == 2 && statistics.MessagesReceived >= 5, $"server statistics: {statistics.ClientsJoined} joined, {statistics.MessagesReceived} messages");
    await server.StopAsync(ct);

    await using var fake = new FakeLocalWebSocketClient();
    await fake.ConnectAsync(new Uri("ws://fake/ws"), ct);
    await fake.SendAsync("recorded", ct);
    fake.InjectMessage("injected");
    Check(fake.SentMessages.Single().Text == "recorded", "the fake client records what is sent");

    folder.Delete(recursive: true);
    Console.WriteLine($"AOT smoke: all {steps} steps passed");
    return 0;
}
catch (Exception exception)
{
    Console.WriteLine($"AOT smoke FAILED after {steps} steps: {exception}");
    return 1;
}

async Task<T> FirstAsync<T>(IAsyncEnumerable<T> stream)
{
    await foreach (var item in stream.WithCancellation(ct))
    {
        return item;
    }

    throw new InvalidOperationException("the stream ended");
}

void Step(string what)
{
    steps++;
    Console.WriteLine($"ok {steps,2} {what}");
}

void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException("expected: " + what);
    }

    Step(what);
}

async Task Until(Func<bool> condition, string what)
{
    for (var i = 0; i < 1000 && !condition(); i++)
    {
        await Task.Delay(10, ct);
    }

    Check(condition(), what);
}

internal sealed record Move([property: JsonPropertyName("kind")] string Kind, int X, int Y);

[JsonSerializable(typeof(Move))]
internal sealed partial class SmokeJson : JsonSerializerContext;

/// <summary>Stamps plain text on the way out and counts what comes in.</summary>
internal sealed class Stamp : IMessageInterceptor
{
    private int _received;

    public int Received => Volatile.Read(ref _received);

    public ValueTask<WebSocketMessage?> OnSendingAsync(WebSocketMessage message, CancellationToken cancellationToken) =>
        new(message.IsText && !message.Text.StartsWith('{') ? WebSocketMessage.FromText(message.Text + " [stamped]") : message);

    public ValueTask<WebSocketMessage?> OnReceivedAsync(WebSocketMessage message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _received);
        return new(message);
    }
}

internal sealed class Lifecycle : IClientLifecycleHandler
{
    private int _connected;
    private int _disconnected;

    public int Connected => Volatile.Read(ref _connected);

    public int Disconnected => Volatile.Read(ref _disconnected);

    public ValueTask OnConnectedAsync(ConnectedClient client, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _connected);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnDisconnectedAsync(ClientDisconnectedEventArgs disconnection, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _disconnected);
        return ValueTask.CompletedTask;
    }
}
