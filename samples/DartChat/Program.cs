// The chat example of the Dart local_websocket README, line by line: each Dart line is in the comment
// above its C#. Run `dotnet run -- server` on one device and `dotnet run -- client` on another; on one
// machine, `dotnet run -- server 127.0.0.1` and `dotnet run -- client 127.0.0` keep it on loopback.
// An optional last argument changes the port (8080, as in Dart). Ctrl+C ends either side.
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Server;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
var port = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 8080;

// print('Choose mode: (1) Server or (2) Client');
Console.WriteLine("Choose mode: (1) Server or (2) Client");
// final mode = 1; // Example: server mode
var mode = args.Length > 0 && args[0] == "client" ? 2 : 1;

// if (mode == 1) {
if (mode == 1)
{
    // final server = Server(echo: false, details: {'chatRoom': 'Main Lobby'});
    await using var server = new LocalWebSocketServer(new LocalWebSocketServerOptions
    {
        Routing = RoutingMode.Broadcast,
        Details = { ["chatRoom"] = "Main Lobby" },
        // await server.start('0.0.0.0', port: 8080);   (host and port are options; StartAsync starts)
        Host = args.Length > 1 ? args[1] : "0.0.0.0",
        Port = port,
    });
    await server.StartAsync();
    // print('Chat server started at ${server.address}');
    Console.WriteLine($"Chat server started at {server.Address}");

    // server.clientsStream.listen((clients) { print('Users online: ${clients.length}'); });
    server.ClientsChanged += (_, e) => Console.WriteLine($"Users online: {e.Clients.Count}");

    // server.messageStream.listen((message) { print('Message received: $message'); });
    server.MessageReceived += (_, e) => Console.WriteLine($"Message received: {e.Message}");

    // (a Dart program lives while a stream has listeners; this one until Ctrl+C)
    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
}
// } else {
else
{
    // print('Scanning for chat servers...');
    Console.WriteLine("Scanning for chat servers...");
    // final servers = await Scanner.scan('192.168.1').first;
    using var scanner = new ServerScanner(new ScannerOptions { Port = port });
    var servers = await scanner.ScanOnceAsync(ScanTarget.Parse(args.Length > 1 ? args[1] : "192.168.1"));

    // if (servers.isEmpty) { print('No servers found'); return; }
    if (servers.Count == 0)
    {
        Console.WriteLine("No servers found");
        return;
    }

    // final client = Client(details: {'username': 'Alice'});
    await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["username"] = "Alice" } });
    // await client.connect(servers.first.path);
    await client.ConnectAsync(servers[0].Url);
    // print('Connected to chat!');
    Console.WriteLine("Connected to chat!");

    // client.messageStream.listen((message) { print('Message: $message'); });
    client.MessageReceived += (_, message) => Console.WriteLine($"Message: {message}");

    // client.send('Hello everyone!');
    await client.SendAsync("Hello everyone!");

    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
}
// }
