using System.Diagnostics.Metrics;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Hosting;
using LocalWebSocket.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers LocalWebSocket's server, client and discovery in a service collection: for generic-host workers,
/// MAUI and console apps (an ASP.NET Core app hosts the server on Kestrel with <c>AddLocalWebSocket</c> instead).
/// </summary>
public static class LocalWebSocketHostingExtensions
{
    /// <summary>Registers the server with its default options (see the overload that takes a configure action).</summary>
    /// <param name="services">The app's services.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketServer(this IServiceCollection services) => services.AddLocalWebSocketServer(static _ => { });

    /// <summary>
    /// Runs a <see cref="LocalWebSocketServer"/> on its own listener for as long as the host runs (a hosted
    /// service starts and stops it), and registers it, to send from other services or read its statistics.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options in code, after any configuration binding.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketServer(this IServiceCollection services, Action<LocalWebSocketServerOptions> configure)
    {
        Register(services, configure, static (provider, options) =>
        {
            options.MeterFactory ??= provider.GetService<IMeterFactory>();
            return new LocalWebSocketServer(options, provider.GetService<ILoggerFactory>());
        });
        return services.AddHostedService<LocalWebSocketServerService>();
    }

    /// <summary>As <see cref="AddLocalWebSocketServer(IServiceCollection, IConfiguration, Action{LocalWebSocketServerOptions})"/>, without options set in code.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketServer(this IServiceCollection services, IConfiguration configuration) =>
        services.AddLocalWebSocketServer(configuration, static _ => { });

    /// <summary>
    /// As <see cref="AddLocalWebSocketServer(IServiceCollection, Action{LocalWebSocketServerOptions})"/>, with the
    /// options bound from a configuration section (e.g. <c>"LocalWebSocket:Server"</c> of <c>appsettings.json</c>)
    /// and checked when the host starts: a value out of range or of the wrong type stops the start with an
    /// <see cref="OptionsValidationException"/> naming the key.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind: <c>Host</c>, <c>Port</c>, <c>Routing</c>, timeouts as <c>00:00:05</c>,
    /// <c>Details</c> as an object (numbers and <c>true</c>/<c>false</c> keep their JSON type), lists as arrays.</param>
    /// <param name="configure">Sets options in code, after the binding (hooks, validators, a certificate).</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketServer(
        this IServiceCollection services, IConfiguration configuration, Action<LocalWebSocketServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configuration);
        Bind<LocalWebSocketServerOptions>(services, configuration, nameof(LocalWebSocketServerOptions.Details), static (options, section) =>
        {
            if (ConfigurationJson.Object(section.GetSection(nameof(LocalWebSocketServerOptions.Details))) is { } details)
            {
                options.Details = details;
            }
        });
        return services.AddLocalWebSocketServer(configure);
    }

    /// <summary>Registers the client with its default options (see the overload that takes a configure action).</summary>
    /// <param name="services">The app's services.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketClient(this IServiceCollection services) => services.AddLocalWebSocketClient(static _ => { });

    /// <summary>
    /// Registers one <see cref="ILocalWebSocketClient"/> (a <see cref="LocalWebSocketClient"/> with the app's logger and
    /// meter factories), disposed with the container. It connects when the app calls <c>ConnectAsync</c>.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options in code, after any configuration binding.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketClient(this IServiceCollection services, Action<LocalWebSocketClientOptions> configure)
    {
        return Register<LocalWebSocketClientOptions, ILocalWebSocketClient>(services, configure, static (provider, options) =>
        {
            options.MeterFactory ??= provider.GetService<IMeterFactory>();
            return new LocalWebSocketClient(options, provider.GetService<ILoggerFactory>());
        });
    }

    /// <summary>As <see cref="AddLocalWebSocketClient(IServiceCollection, IConfiguration, Action{LocalWebSocketClientOptions})"/>, without options set in code.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketClient(this IServiceCollection services, IConfiguration configuration) =>
        services.AddLocalWebSocketClient(configuration, static _ => { });

    /// <summary>As <see cref="AddLocalWebSocketClient(IServiceCollection, Action{LocalWebSocketClientOptions})"/>, with the options bound from a configuration section and checked at start.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind (<c>ConnectTimeout</c>, <c>Details</c> as strings, <c>Headers</c>...).</param>
    /// <param name="configure">Sets options in code, after the binding.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketClient(
        this IServiceCollection services, IConfiguration configuration, Action<LocalWebSocketClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configuration);
        Bind<LocalWebSocketClientOptions>(services, configuration, readSeparately: null, extra: null);
        return services.AddLocalWebSocketClient(configure);
    }

    /// <summary>Registers discovery with its default options (see the overload that takes a configure action).</summary>
    /// <param name="services">The app's services.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketDiscovery(this IServiceCollection services) => services.AddLocalWebSocketDiscovery(static _ => { });

    /// <summary>Registers a <see cref="ServerDiscovery"/> (scan and mDNS), with the app's meter factory.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options in code, after any configuration binding.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketDiscovery(this IServiceCollection services, Action<DiscoveryOptions> configure)
    {
        return Register(services, configure, static (provider, options) =>
        {
            options.MeterFactory ??= provider.GetService<IMeterFactory>();
            return new ServerDiscovery(options);
        });
    }

    /// <summary>As <see cref="AddLocalWebSocketDiscovery(IServiceCollection, IConfiguration, Action{DiscoveryOptions})"/>, without options set in code.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketDiscovery(this IServiceCollection services, IConfiguration configuration) =>
        services.AddLocalWebSocketDiscovery(configuration, static _ => { });

    /// <summary>As <see cref="AddLocalWebSocketDiscovery(IServiceCollection, Action{DiscoveryOptions})"/>, with the options bound from a configuration section and checked at start.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The section to bind (<c>UseScan</c>, <c>UseMdns</c>, <c>MdnsWait</c>, <c>Scanner:Port</c>...).</param>
    /// <param name="configure">Sets options in code, after the binding.</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddLocalWebSocketDiscovery(
        this IServiceCollection services, IConfiguration configuration, Action<DiscoveryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configuration);
        Bind<DiscoveryOptions>(services, configuration, readSeparately: null, extra: null);
        return services.AddLocalWebSocketDiscovery(configure);
    }

    /// <summary>
    /// The one shape of every registration: the options (code after any binding), and one <typeparamref name="TService"/>
    /// made from them on first use. A second registration of the same service keeps the first (TryAdd).
    /// </summary>
    private static IServiceCollection Register<TOptions, TService>(
        IServiceCollection services, Action<TOptions> configure, Func<IServiceProvider, TOptions, TService> create)
        where TOptions : class
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TOptions>().Configure(configure);
        services.TryAddSingleton(provider => create(provider, provider.GetRequiredService<IOptions<TOptions>>().Value));
        return services;
    }

    /// <summary>
    /// Binds a section, and turns what the options' own checks refuse (their setters validate) into one clear
    /// error at start: the section's path, the key and the reason, instead of an exception from deep in the binder
    /// on first use.
    /// </summary>
    private static void Bind<TOptions>(
        IServiceCollection services, IConfiguration configuration, string? readSeparately, Action<TOptions, IConfiguration>? extra)
        where TOptions : class, new()
    {
        var path = (configuration as IConfigurationSection)?.Path ?? "(root)";
        services.AddOptions<TOptions>()
            .Configure(options =>
            {
                try
                {
                    // The server's details are JSON, which the binder cannot make: they are read on their own (extra).
                    ConfigurationJson.BindAllBut(configuration, options, readSeparately);
                    extra?.Invoke(options, configuration);
                }
                catch (Exception exception) when (Unwrap(exception) is ArgumentException or InvalidOperationException or FormatException)
                {
                    var failing = ConfigurationJson.FirstFailingKey<TOptions>(configuration, readSeparately);
                    var where = failing is { } found ? $"'{path}:{found.Key}'" : $"section '{path}'";
                    var why = Describe(Unwrap(failing?.Error ?? exception));
                    throw new OptionsValidationException(path, typeof(TOptions), [$"Configuration {where} is not valid for {typeof(TOptions).Name}: {why}"]);
                }
            })
            .ValidateOnStart();
    }

    /// <summary>The options' own error, from under the reflection that called their setter.</summary>
    private static Exception Unwrap(Exception exception) =>
        exception is System.Reflection.TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : exception;

    private static string Describe(Exception exception) =>
        exception.InnerException is { } inner && exception is InvalidOperationException ? $"{exception.Message} {inner.Message}" : exception.Message;
}
