using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LocalWebSocket.Tests.Hosting;

/// <summary>LocalWebSocket.Hosting: the server as a generic host's hosted service, options from configuration.</summary>
public sealed class GenericHostTests
{
    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    [Fact]
    public async Task A_worker_runs_the_server_with_options_from_configuration_and_a_client_from_the_container_talks_to_it()
    {
        var builder = Builder(new()
        {
            ["LocalWebSocket:Server:Host"] = "127.0.0.1",
            ["LocalWebSocket:Server:Port"] = "0",
            ["LocalWebSocket:Server:Routing"] = "Echo",
            ["LocalWebSocket:Server:HandshakeTimeout"] = "00:00:03",
            ["LocalWebSocket:Server:SubProtocols:0"] = "chat.v1",
            ["LocalWebSocket:Server:Details:name"] = "Worker",
            ["LocalWebSocket:Server:Details:players"] = "4",
            ["LocalWebSocket:Server:Details:open"] = "true",
            ["LocalWebSocket:Server:Details:tags:0"] = "lan",
            ["LocalWebSocket:Client:ConnectTimeout"] = "00:00:04",
            ["LocalWebSocket:Client:Details:name"] = "Ann",
            ["LocalWebSocket:Discovery:UseMdns"] = "false",
            ["LocalWebSocket:Discovery:IncludeLoopback"] = "true",
        });
        builder.Services.AddLocalWebSocketServer(builder.Configuration.GetSection("LocalWebSocket:Server"), options => options.MaxConnections = 50);
        builder.Services.AddLocalWebSocketClient(builder.Configuration.GetSection("LocalWebSocket:Client"));
        builder.Services.AddLocalWebSocketDiscovery(builder.Configuration.GetSection("LocalWebSocket:Discovery"));
        using var host = builder.Build();

        await host.StartAsync().Within();
        var server = host.Services.GetRequiredService<LocalWebSocketServer>();
        var client = host.Services.GetRequiredService<ILocalWebSocketClient>();
        var discovery = host.Services.GetRequiredService<ServerDiscovery>();
        var echoed = new Probe<WebSocketMessage>();
        client.MessageReceived += (_, m) => echoed.Add(m);
        await client.ConnectAsync(server.WebSocketUrl).Within();
        await client.SendAsync("through the host");

        Assert.True(server.IsRunning);
        Assert.Equal(RoutingMode.Echo, server.Options.Routing);
        Assert.Equal(TimeSpan.FromSeconds(3), server.Options.HandshakeTimeout);
        Assert.Equal(50, server.Options.MaxConnections);
        Assert.Equal(["chat.v1"], server.Options.SubProtocols);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"Worker","players":4,"open":true,"tags":["lan"]}"""), server.Details));
        Assert.Equal("through the host", (await echoed.WaitForCountAsync(1))[0].Text);
        Assert.Equal("Ann", Assert.Single(server.Clients).Details["name"]);
        Assert.Equal(TimeSpan.FromSeconds(4), host.Services.GetRequiredService<IOptions<LocalWebSocketClientOptions>>().Value.ConnectTimeout);
        Assert.False(host.Services.GetRequiredService<IOptions<DiscoveryOptions>>().Value.UseMdns);
        Assert.NotNull(discovery);

        await host.StopAsync().Within();
        Assert.False(server.IsRunning);
    }

    [Theory]
    [InlineData("Port", "70000", "Port")]
    [InlineData("Routing", "Sideways", "Routing")]
    [InlineData("HandshakeTimeout", "-00:00:01", "HandshakeTimeout")]
    [InlineData("Prot", "8080", "Prot")]
    [InlineData("MaxConnections", "many", "MaxConnections")]
    public async Task A_bad_value_in_configuration_stops_the_start_with_an_error_naming_the_section_and_the_key(string key, string value, string named)
    {
        var builder = Builder(new() { ["LocalWebSocket:Server:Host"] = "127.0.0.1", [$"LocalWebSocket:Server:{key}"] = value });
        builder.Services.AddLocalWebSocketServer(builder.Configuration.GetSection("LocalWebSocket:Server"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).Within();

        Assert.Contains($"'LocalWebSocket:Server:{named}'", error.Message, StringComparison.Ordinal);
    }
}
