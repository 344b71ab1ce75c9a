using System.Net.Http.Json;
using System.Text.Json;
using LocalWebSocket.Client;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Samples;

/// <summary>samples/Worker and samples/AspNetCoreHub, started as their README lines say, joined by our client.</summary>
public sealed class HostingSampleTests
{
    private static async Task<(LocalWebSocketClient Client, Probe<string> Received)> JoinAsync(Uri url, string name)
    {
        var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None, Details = { ["name"] = name } });
        var received = new Probe<string>();
        client.MessageReceived += (_, m) => received.Add(m.Text);
        await client.ConnectAsync(url).Within();
        return (client, received);
    }

    [Fact]
    public async Task The_worker_reads_its_appsettings_runs_the_server_and_its_background_service_greets_a_client()
    {
        await using var worker = PeerProcess.StartRaw("dotnet", PeerProcess.BuiltProgram("samples/Worker", "Worker.dll"));
        var line = await worker.WaitForLineContainingAsync("Clients connect to ws://127.0.0.1:");
        var url = new Uri(line[line.IndexOf("ws://", StringComparison.Ordinal)..].Trim());

        var (client, received) = await JoinAsync(url, "Ana");
        await using var _ = client;
        using var http = new HttpClient();
        var details = await http.GetFromJsonAsync<JsonElement>(new Uri($"http://127.0.0.1:{url.Port}/")).WaitAsync(TestServers.Timeout);

        Assert.Equal("welcome, Ana", (await received.WaitForCountAsync(1))[0]);
        Assert.Equal("Worker room", details.GetProperty("name").GetString());
        Assert.Equal(8, details.GetProperty("maxPlayers").GetInt32());
    }

    [Fact]
    public async Task The_asp_net_core_app_serves_the_hub_beside_its_own_endpoints()
    {
        await using var app = PeerProcess.StartRaw("dotnet", PeerProcess.BuiltProgram("samples/AspNetCoreHub", "AspNetCoreHub.dll"), "--urls", "http://127.0.0.1:0");
        var line = await app.WaitForLineContainingAsync("Now listening on: http://127.0.0.1:");
        var root = new Uri(line[line.IndexOf("http://", StringComparison.Ordinal)..].Trim());
        var (client, received) = await JoinAsync(new Uri($"ws://127.0.0.1:{root.Port}/ws"), "Bo");
        await using var _ = client;
        using var http = new HttpClient { BaseAddress = root };

        using var announced = await http.PostAsync(new Uri("/announce?text=hello%20from%20HTTP", UriKind.Relative), null).WaitAsync(TestServers.Timeout);
        var sent = await announced.Content.ReadFromJsonAsync<JsonElement>();
        var stats = await http.GetFromJsonAsync<JsonElement>(new Uri("/stats", UriKind.Relative)).WaitAsync(TestServers.Timeout);
        using var details = await http.GetAsync(new Uri("/", UriKind.Relative)).WaitAsync(TestServers.Timeout);

        Assert.Equal("hello from HTTP", (await received.WaitForCountAsync(1))[0]);
        Assert.Equal(1, sent.GetProperty("sentTo").GetInt32());
        Assert.Equal(1, stats.GetProperty("clientsConnected").GetInt32());
        Assert.Equal("local-websocket/1.0.0", Assert.Single(details.Headers.GetValues("Server")));
    }
}
