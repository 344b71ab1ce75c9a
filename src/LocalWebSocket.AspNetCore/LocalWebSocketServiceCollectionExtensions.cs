using LocalWebSocket.AspNetCore;
using System.Diagnostics.Metrics;
using LocalWebSocket.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the LocalWebSocket hub in an ASP.NET Core app.</summary>
public static class LocalWebSocketServiceCollectionExtensions
{
    /// <summary>
    /// Registers the hub (a <see cref="LocalWebSocketServer"/> singleton, hosted by Kestrel: resolve it to send
    /// from controllers or background services, read its statistics or subscribe to its events) and the
    /// service that runs it with the app. Map its endpoints with <c>app.MapLocalWebSocket()</c>.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">
    /// Sets the hub's options: the same <see cref="LocalWebSocketServerOptions"/> as for its own listener.
    /// Those of the listener itself (<see cref="LocalWebSocketServerOptions.Host"/>, <see cref="LocalWebSocketServerOptions.Port"/>,
    /// <see cref="LocalWebSocketServerOptions.Certificate"/>, request head limits) are Kestrel's to set here.
    /// </param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocket(this IServiceCollection services, Action<LocalWebSocketServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<LocalWebSocketServerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<LocalWebSocketServerOptions>>().Value;
            // The app's meter factory, so that its metrics pipeline (OpenTelemetry, dotnet-counters) owns the meter.
            settings.MeterFactory ??= provider.GetService<IMeterFactory>();
            return new LocalWebSocketServer(settings, provider.GetService<ILoggerFactory>());
        });
        services.AddHostedService<LocalWebSocketHostedService>();
        return services;
    }
}
