using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace LocalWebSocket.Tests.Diagnostics;

/// <summary>Server and client log through an ILoggerFactory: quiet per connection unless Debug is on.</summary>
public sealed class LoggingTests
{
    private static (ILoggerFactory Factory, FakeLogCollector Logs) Capture(LogLevel minimum)
    {
        var provider = new FakeLoggerProvider();
        var factory = LoggerFactory.Create(builder => builder.AddProvider(provider).SetMinimumLevel(minimum));
        return (factory, provider.Collector);
    }

    [Fact]
    public async Task At_information_a_server_logs_its_life_but_not_each_client_and_at_debug_each_client_too()
    {
        var (quietFactory, quiet) = Capture(LogLevel.Information);
        var (chattyFactory, chatty) = Capture(LogLevel.Debug);
        using var _ = quietFactory;
        using var __ = chattyFactory;
        foreach (var factory in new[] { quietFactory, chattyFactory })
        {
            await using var server = new LocalWebSocketServer(new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0 }, factory);
            // The event follows the log line (Clients changes before it: waiting on Clients would race the log).
            var left = new Probe<ClientDisconnectedEventArgs>();
            server.ClientDisconnected += (_, e) => left.Add(e);
            await server.StartAsync();
            await using (var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None }))
            {
                await client.ConnectAsync(server.WebSocketUrl).Within();
                await TestServers.UntilAsync(() => server.Clients.Count == 1, "the client joined");
            }

            await left.WaitForCountAsync(1);
        }

        Assert.Contains(quiet.GetSnapshot(), log => log.Level == LogLevel.Information && log.Message.StartsWith("Listening on 127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(quiet.GetSnapshot(), log => log.Message.Contains("joined", StringComparison.Ordinal));
        Assert.Contains(chatty.GetSnapshot(), log => log.Level == LogLevel.Debug && log.Message.Contains("joined from 127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains(chatty.GetSnapshot(), log => log.Level == LogLevel.Debug && log.Message.Contains("left (NormalClosure)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_logs_its_connection_at_debug_and_a_throwing_handler_as_an_error()
    {
        var (factory, logs) = Capture(LogLevel.Debug);
        using var _ = factory;
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None }, factory);
        client.MessageReceived += (_, _) => throw new InvalidOperationException("handler bug");

        await client.ConnectAsync(server.WebSocketUrl).Within();
        await client.SendAsync("one");
        await client.SendAsync("two");
        // Two errors: the handler threw for each message, and the client went on receiving after the first.
        await TestServers.UntilAsync(() => logs.GetSnapshot().Count(l => l.Level == LogLevel.Error) == 2, "both handler failures logged");

        var snapshot = logs.GetSnapshot();
        Assert.Contains(snapshot, log => log.Level == LogLevel.Debug && log.Message == $"Connecting to {server.WebSocketUrl} (attempt 0).");
        Assert.Contains(snapshot, log => log.Level == LogLevel.Debug && log.Message.StartsWith("Connected to ", StringComparison.Ordinal));
        Assert.All(snapshot.Where(l => l.Level == LogLevel.Error), log => Assert.Equal("handler bug", log.Exception?.Message));
        Assert.Equal(snapshot.Count(l => l.Level == LogLevel.Error), snapshot.Count(l => l.Category == typeof(LocalWebSocketClient).FullName && l.Level == LogLevel.Error));
    }
}
