using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>The subnet scanner against real servers and hostile non-servers on 127.0.0.x addresses (loopback only).</summary>
public sealed class ServerScannerTests
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    private static Task<LocalWebSocketServer> StartOnAsync(string host, int port, string name) =>
        TestServers.StartAsync(o =>
        {
            o.Host = host;
            o.Port = port;
            o.Details = new JsonObject { ["name"] = name };
        });

    private static string Response(string headers, string body) =>
        $"HTTP/1.1 200 OK\r\n{headers}Content-Length: {System.Text.Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";

    [Fact]
    public async Task Finds_servers_on_a_prefix_and_rejects_every_kind_of_non_server_within_the_deadline()
    {
        await using var first = await StartOnAsync("127.0.8.2", 0, "first");
        var port = first.Port;
        await using var second = await StartOnAsync("127.0.8.3", port, "second");
        await using var wrongHeader = new FakeHttpHost(IPAddress.Parse("127.0.8.4"), port, Response("Server: nginx\r\n", "{}"));
        await using var twoHeaders = new FakeHttpHost(IPAddress.Parse("127.0.8.5"), port,
            Response("Server: local-websocket/1.0.0\r\nServer: local-websocket/1.0.0\r\n", "{}"));
        await using var notJson = new FakeHttpHost(IPAddress.Parse("127.0.8.6"), port, Response("Server: local-websocket/1.0.0\r\n", "<html>"));
        await using var slowBody = new FakeHttpHost(IPAddress.Parse("127.0.8.7"), port,
            "HTTP/1.1 200 OK\r\nServer: local-websocket/1.0.0\r\nContent-Length: 40\r\n\r\n{", trickle: "\"a\":1111111111111111111111111111111111}");
        await using var notObject = new FakeHttpHost(IPAddress.Parse("127.0.8.8"), port, Response("Server: local-websocket/1.0.0\r\n", "[1,2]"));
        await using var silent = new FakeHttpHost(IPAddress.Parse("127.0.8.9"), port, response: null);
        await using var notFound = new FakeHttpHost(IPAddress.Parse("127.0.8.10"), port,
            "HTTP/1.1 404 Not Found\r\nServer: local-websocket/1.0.0\r\nContent-Length: 2\r\n\r\n{}");
        using var scanner = new ServerScanner(new ScannerOptions { Port = port, ProbeTimeout = ProbeTimeout });

        // The silent host and the trickling body end at the probe deadline (A_subnet_of_silent_hosts... shows
        // it on a fake clock); Within bounds the scan, so one that waited for them would fail here.
        var found = await scanner.ScanOnceAsync(ScanTarget.Parse("127.0.8")).Within();

        Assert.Equal([$"ws://127.0.8.2:{port}/ws", $"ws://127.0.8.3:{port}/ws"], found.Select(s => s.Url.ToString()));
        Assert.Equal(["first", "second"], found.Select(s => s.Details.GetProperty("name").GetString()));
        Assert.All(found, s =>
        {
            Assert.Equal(DiscoverySource.Scan, s.Source);
            Assert.Equal(port, s.Port);
            Assert.True(s.RoundTripTime > TimeSpan.Zero);
        });
        Assert.Equal(IPAddress.Parse("127.0.8.2"), found[0].Address);
    }

    [Fact]
    public async Task A_subnet_of_silent_hosts_costs_one_probe_timeout_not_one_per_host()
    {
        var hosts = new List<FakeHttpHost> { new(IPAddress.Parse("127.0.9.1"), 0, response: null) };
        var port = hosts[0].Port;
        for (var i = 2; i <= 40; i++)
        {
            hosts.Add(new FakeHttpHost(IPAddress.Parse($"127.0.9.{i}"), port, response: null));
        }

        var clock = new ManualTimeProvider();
        using var scanner = new ServerScanner(new ScannerOptions { Port = port, ProbeTimeout = ProbeTimeout }, clock);
        var scanning = scanner.ScanOnceAsync(ScanTarget.Parse("127.0.9"));

        // Every probe's deadline is running while the clock has not moved: they wait together, so the whole
        // subnet costs one probe timeout, and one step of the clock past it ends the scan.
        await clock.TimerCreated.WaitUntilAsync(due => due.Count(d => d == ProbeTimeout) >= 40);
        Assert.False(scanning.IsCompleted);
        clock.Advance(ProbeTimeout);
        var found = await scanning.Within();
        foreach (var host in hosts)
        {
            await host.DisposeAsync();
        }

        Assert.Empty(found);
    }

    [Fact]
    public async Task An_empty_24_finishes_without_waiting_for_a_probe_timeout()
    {
        // Nothing listens on 127.0.10.x: each connection is refused at once. On a clock that never moves,
        // the scan can only end that way.
        using var scanner = new ServerScanner(new ScannerOptions { Port = 18081, ProbeTimeout = ProbeTimeout }, new ManualTimeProvider());

        var found = await scanner.ScanOnceAsync(ScanTarget.Parse("127.0.10.0/24")).Within();

        Assert.Empty(found);
    }

    [Fact]
    public async Task Watching_yields_each_server_as_it_answers_and_a_round_end_with_what_did_not()
    {
        await using var server = await StartOnAsync("127.0.18.1", 0, "quick");
        await using var slow = new FakeHttpHost(IPAddress.Parse("127.0.18.2"), server.Port, response: null);
        using var scanner = new ServerScanner(new ScannerOptions { Port = server.Port, ProbeTimeout = ProbeTimeout, Interval = TimeSpan.FromMilliseconds(100) });
        await using var snapshots = scanner.WatchAsync([ScanTarget.Parse("127.0.18.1"), ScanTarget.Parse("127.0.18.2")]).GetAsyncEnumerator();

        // First the server, while the silent host still holds the round open; then the round's end.
        Assert.True(await snapshots.MoveNextAsync().AsTask().Within());
        var answered = snapshots.Current;
        Assert.True(await snapshots.MoveNextAsync().AsTask().Within());
        var roundEnd = snapshots.Current;
        var url = server.WebSocketUrl;
        await server.StopAsync();
        Assert.True(await snapshots.MoveNextAsync().AsTask().Within());
        var nextRoundEnd = snapshots.Current;

        Assert.Equal("quick", Assert.Single(answered.Added).Details.GetProperty("name").GetString());
        Assert.Empty(answered.Removed);
        Assert.Empty(roundEnd.Added);
        Assert.Empty(roundEnd.Removed);
        Assert.Single(roundEnd.Servers);
        Assert.Equal(url, Assert.Single(nextRoundEnd.Removed).Url);
        Assert.Empty(nextRoundEnd.Servers);
    }

    [Fact]
    public async Task Watching_reports_servers_added_changed_and_removed()
    {
        await using var first = await StartOnAsync("127.0.11.2", 0, "first");
        var port = first.Port;
        using var scanner = new ServerScanner(new ScannerOptions { Port = port, ProbeTimeout = ProbeTimeout, Interval = TimeSpan.FromMilliseconds(200) });
        await using var rounds = scanner.WatchAsync([ScanTarget.Parse("127.0.11.0/29")]).GetAsyncEnumerator();

        async Task<DiscoverySnapshot> NextAsync()
        {
            Assert.True(await rounds.MoveNextAsync().AsTask().Within());
            return rounds.Current;
        }

        async Task<DiscoverySnapshot> UntilAsync(Func<DiscoverySnapshot, bool> condition)
        {
            for (var round = 0; round < 50; round++)
            {
                var snapshot = await NextAsync();
                if (condition(snapshot))
                {
                    return snapshot;
                }
            }

            throw new TimeoutException("The expected round did not come within 50 rounds.");
        }

        var initial = await NextAsync();
        Assert.Single(initial.Added);

        await using var second = await StartOnAsync("127.0.11.3", port, "second");
        var added = await UntilAsync(s => s.Added.Count > 0);
        Assert.Equal($"ws://127.0.11.3:{port}/ws", added.Added.Single().Url.ToString());
        Assert.Equal(2, added.Servers.Count);

        first.UpdateDetails(d => d["name"] = "renamed");
        var changed = await UntilAsync(s => s.Changed.Count > 0);
        Assert.Equal("renamed", changed.Changed.Single().Details.GetProperty("name").GetString());

        await first.StopAsync();
        var removed = await UntilAsync(s => s.Removed.Count > 0);
        Assert.Equal($"ws://127.0.11.2:{port}/ws", removed.Removed.Single().Url.ToString());
        Assert.Single(removed.Servers);
    }

    [Fact]
    public async Task A_found_server_can_be_connected_to_by_its_url()
    {
        await using var server = await StartOnAsync("127.0.12.5", 0, "join me");
        using var scanner = new ServerScanner(new ScannerOptions { Port = server.Port, ProbeTimeout = ProbeTimeout });
        var found = Assert.Single(await scanner.ScanOnceAsync(ScanTarget.Parse("127.0.12")).Within());
        await using var client = new LocalWebSocket.Client.LocalWebSocketClient();

        await client.ConnectAsync(found.Url).Within();

        Assert.True(client.IsConnected);
    }
}
