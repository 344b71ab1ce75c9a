// The baseline of our benchmarks: the fastest thing a .NET user could write instead of LocalWebSocket, a
// raw ASP.NET Core Kestrel WebSocket server with the same semantics (GET / details with one Server header,
// /ws upgrades, echo or broadcast relaying, one bounded queue and writer per client), following the docs'
// accept/receive loop. Usage: KestrelBaseline PORT echo|broadcast
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var echo = args.Length > 1 && args[1] == "echo";
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxConcurrentConnections = null;
    kestrel.Limits.MaxConcurrentUpgradedConnections = null;
    kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http1);
});
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
var clients = new Clients();

app.MapGet("/", (HttpContext context) =>
{
    context.Response.Headers.Server = "local-websocket/1.0.0";
    return Results.Text("""{"name":"kestrel baseline"}""", "application/json; charset=utf-8");
});
app.Map("/ws", async context =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = 400;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var client = new Client(socket);
    clients.Add(client);
    var writer = client.WriteLoopAsync();
    var buffer = new byte[4096];
    try
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                break;
            }

            var message = new MemoryStream();
            message.Write(buffer, 0, result.Count);
            while (!result.EndOfMessage)
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                message.Write(buffer, 0, result.Count);
            }

            var outgoing = (message.ToArray(), result.MessageType);
            foreach (var other in clients.Snapshot)
            {
                if (echo || other != client)
                {
                    other.Queue.Writer.TryWrite(outgoing);
                }
            }
        }
    }
    catch (WebSocketException)
    {
    }
    finally
    {
        clients.Remove(client);
        client.Queue.Writer.TryComplete();
        await writer;
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
    }
});
app.Run();

internal sealed class Client(WebSocket socket)
{
    public Channel<(byte[] Data, WebSocketMessageType Type)> Queue { get; } =
        Channel.CreateBounded<(byte[], WebSocketMessageType)>(new BoundedChannelOptions(8192) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    public async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var (data, type) in Queue.Reader.ReadAllAsync())
            {
                await socket.SendAsync(data, type, endOfMessage: true, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
        {
        }
    }
}

internal sealed class Clients
{
    private readonly Lock _gate = new();
    private Client[] _snapshot = [];

    public Client[] Snapshot => Volatile.Read(ref _snapshot);

    public void Add(Client client)
    {
        lock (_gate)
        {
            _snapshot = [.. _snapshot, client];
        }
    }

    public void Remove(Client client)
    {
        lock (_gate)
        {
            _snapshot = [.. _snapshot.Where(c => c != client)];
        }
    }
}
