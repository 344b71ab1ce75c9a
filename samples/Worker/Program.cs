using LocalWebSocket.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The server runs with the host, its options from appsettings.json ("LocalWebSocket:Server"); a bad value
// there stops the start with an error naming the key. Run: dotnet run --project samples/Worker
// appsettings.json is read from beside the program, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddLocalWebSocketServer(builder.Configuration.GetSection("LocalWebSocket:Server"));
builder.Services.AddHostedService<Announcer>();
using var host = builder.Build();
await host.RunAsync();

/// <summary>A background service of the app's: it greets each client and tells the room every few seconds how many are in it.</summary>
internal sealed partial class Announcer(LocalWebSocketServer hub, ILogger<Announcer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Started by now: hosted services start in order, the server's first.
        Started(logger, hub.WebSocketUrl);
        hub.ClientConnected += (_, e) => hub.SendTo(e.Client.Id, LocalWebSocket.WebSocketMessage.FromText($"welcome, {e.Client.Details.GetValueOrDefault("name", "guest")}"));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                hub.SendToAll($"{hub.Clients.Count} in the room");
            }
        }
        catch (OperationCanceledException)
        {
            // The host is stopping.
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Clients connect to {Url}")]
    private static partial void Started(ILogger logger, Uri url);
}
