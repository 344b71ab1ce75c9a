// The README's quick start, compiled with the solution so that it never goes stale.
// Runs a server and a client on loopback and exits.
using System.Text.Json.Nodes;
using LocalWebSocket;
using LocalWebSocket.Client;
using LocalWebSocket.Server;

// --- Server ---
await using var server = new LocalWebSocketServer(new LocalWebSocketServerOptions
{
    Host = "127.0.0.1",          // "0.0.0.0" (the default) to be reachable from the LAN
    Port = 0,                    // 0 picks a free port; the default is 8080, as in Dart local_websocket
    Routing = RoutingMode.Echo,  // Broadcast (default): to every other client; Echo: to every client
    Details = new JsonObject { ["name"] = "My Local Server", ["maxPlayers"] = 4 },
});
server.ClientConnected += (_, e) => Console.WriteLine($"server: {e.Client.Details["username"]} joined ({server.Clients.Count} connected)");
server.MessageReceived += (_, e) => Console.WriteLine($"server: {e.Client.Details["username"]} sent {e.Message}");
await server.StartAsync();
Console.WriteLine($"server: listening at {server.WebSocketUrl}, details at {server.Address}");

// --- Client ---
await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions
{
    Details = { ["username"] = "alice", ["device"] = "laptop" },
});
var echoed = new TaskCompletionSource<WebSocketMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
client.MessageReceived += (_, message) => echoed.TrySetResult(message);
await client.ConnectAsync(server.WebSocketUrl);
await client.SendAsync("Hello, server!");
Console.WriteLine($"client: got back {await echoed.Task.WaitAsync(TimeSpan.FromSeconds(10))}");

// Streams: every reader gets every item.
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
var reading = Task.Run(async () =>
{
    await foreach (var message in client.Messages.WithCancellation(timeout.Token))
    {
        return message.ReadJson<JsonObject>()!["type"]!.GetValue<string>();
    }

    return null;
});
await client.SendJsonAsync(new JsonObject { ["type"] = "chat", ["text"] = "JSON goes as text" });
Console.WriteLine($"client: streamed a JSON message of type {await reading}");

await client.DisconnectAsync();
await server.StopAsync();
