using LocalWebSocket.Server;
using Microsoft.Extensions.Hosting;

namespace LocalWebSocket.Hosting;

/// <summary>
/// Runs the server on its own listener with the host: started with it (a port in use fails the start, as it
/// should), stopped with it (its clients closed with 1001, within the close timeout).
/// </summary>
internal sealed class LocalWebSocketServerService(LocalWebSocketServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => server.IsRunning ? server.StopAsync(cancellationToken) : Task.CompletedTask;
}
