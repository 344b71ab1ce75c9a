using System.Net;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Tests.Hosting;

/// <summary>A hub started for one test, hosted one way or another, and what stops it.</summary>
public sealed class HostedHub(LocalWebSocketServer server, int port, Func<ValueTask> stop, IServiceProvider? services = null) : IAsyncDisposable
{
    /// <summary>The app's services, when the host has a container (ASP.NET Core).</summary>
    public IServiceProvider? Services { get; } = services;

    /// <summary>The hub, as the app sees it (for ASP.NET Core: resolved from the app's services).</summary>
    public LocalWebSocketServer Server { get; } = server;

    /// <summary>The TCP port on 127.0.0.1 that serves <c>GET /</c> and <c>/ws</c>.</summary>
    public int Port { get; } = port;

    /// <summary>Where clients connect.</summary>
    public Uri WebSocketUrl => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary>Stops the host (which stops the hub).</summary>
    public ValueTask StopAsync() => stop();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => stop();
}

/// <summary>The server on its own listener.</summary>
public sealed class ListenerHubHost
{
    public static async Task<HostedHub> StartAsync(Action<LocalWebSocketServerOptions>? configure)
    {
        var server = await TestServers.StartAsync(configure);
        var stopped = 0;
        return new HostedHub(server, server.Port, async () =>
        {
            if (Interlocked.Exchange(ref stopped, 1) == 0)
            {
                await server.DisposeAsync();
            }
        });
    }
}

/// <summary>The server on Kestrel, as an app sets it up: AddLocalWebSocket and MapLocalWebSocket.</summary>
public sealed class AspNetCoreHubHost
{
    public static async Task<HostedHub> StartAsync(Action<LocalWebSocketServerOptions>? configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddLocalWebSocket(options => configure?.Invoke(options));
        var app = builder.Build();
        app.MapLocalWebSocket();
        await app.StartAsync().WaitAsync(TestServers.Timeout);
        var server = app.Services.GetRequiredService<LocalWebSocketServer>();
        var stopped = 0;
        return new HostedHub(server, server.LocalEndPoint.Port, async () =>
        {
            if (Interlocked.Exchange(ref stopped, 1) == 0)
            {
                await app.StopAsync().WaitAsync(TestServers.Timeout);
                await app.DisposeAsync();
            }
        }, app.Services);
    }
}
