using System.Net;
using LocalWebSocket.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;

namespace LocalWebSocket.AspNetCore;

/// <summary>
/// Runs the hub for as long as the web host runs. It starts once Kestrel listens (so the hub knows the
/// endpoint to report and advertise) and stops before Kestrel does: its clients are closed with 1001 first,
/// instead of Kestrel waiting for their upgraded requests until its shutdown timeout.
/// </summary>
internal sealed class LocalWebSocketHostedService(LocalWebSocketServer server, IServer host) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) =>
        server.StartHostedAsync(ListenEndPoint(host.Features.Get<IServerAddressesFeature>()?.Addresses), cancellationToken);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (server.IsRunning)
        {
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The endpoint of Kestrel's first plain-HTTP address (<c>http://127.0.0.1:5000</c>; <c>*</c>, <c>+</c> and
    /// <c>[::]</c> mean every address; <c>localhost</c> loopback); null when it has none.
    /// </summary>
    internal static IPEndPoint? ListenEndPoint(IEnumerable<string>? addresses)
    {
        foreach (var address in addresses ?? [])
        {
            // "http://*:5000" and "http://+:5000" are not URIs .NET parses: they mean every address.
            var parsable = address.Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal);
            if (!Uri.TryCreate(parsable, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
            {
                continue;
            }

            var host = uri.Host.Trim('[', ']');
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                return new IPEndPoint(IPAddress.Loopback, uri.Port);
            }

            if (IPAddress.TryParse(host, out var ip))
            {
                return new IPEndPoint(ip, uri.Port);
            }
        }

        return null;
    }
}
