using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

public sealed class EventsAndStreamsTests
{
    private static async Task<List<T>> TakeAsync<T>(IAsyncEnumerable<T> stream, int count, TaskCompletionSource subscribed)
    {
        var items = new List<T>();
        await using var enumerator = stream.GetAsyncEnumerator();
        subscribed.SetResult();
        while (items.Count < count && await enumerator.MoveNextAsync())
        {
            items.Add(enumerator.Current);
        }

        return items;
    }

    [Fact]
    public async Task Several_readers_each_get_every_message_with_its_sender()
    {
        await using var server = await TestServers.StartAsync();
        var readersReady = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource()).ToArray();
        var readers = readersReady.Select(ready => Task.Run(() => TakeAsync(server.Messages, 3, ready))).ToArray();
        await Task.WhenAll(readersReady.Select(r => r.Task)).Within();
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["name"] = "ann" } });
        await client.ConnectAsync(server.WebSocketUrl).Within();

        await client.SendAsync("one");
        await client.SendAsync(new byte[] { 2 }.AsMemory());
        await client.SendJsonAsync(new { n = 3 });

        foreach (var reader in readers)
        {
            var got = await reader.Within();
            Assert.Equal(["one", "[binary, 1 bytes]", """{"n":3}"""], got.Select(e => e.Message.ToString()));
            Assert.All(got, e => Assert.Equal("ann", e.Client.Details["name"]));
        }
    }

    [Fact]
    public async Task Connection_events_and_streams_report_join_leave_and_the_current_set()
    {
        await using var server = await TestServers.StartAsync();
        var joinedReady = new TaskCompletionSource();
        var leftReady = new TaskCompletionSource();
        var changesReady = new TaskCompletionSource();
        var joined = Task.Run(() => TakeAsync(server.ClientConnections, 2, joinedReady));
        var left = Task.Run(() => TakeAsync(server.ClientDisconnections, 1, leftReady));
        var changes = Task.Run(() => TakeAsync(server.ClientsChanges, 3, changesReady));
        await Task.WhenAll(joinedReady.Task, leftReady.Task, changesReady.Task).Within();
        var connectedEvents = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => connectedEvents.Add(e.Client);

        await using var a = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["n"] = "a" } });
        await using var b = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["n"] = "b" } });
        await a.ConnectAsync(server.WebSocketUrl).Within();
        await connectedEvents.WaitForCountAsync(1);
        await b.ConnectAsync(server.WebSocketUrl).Within();
        await connectedEvents.WaitForCountAsync(2);
        await a.DisconnectAsync().Within();

        Assert.Equal(["a", "b"], (await joined.Within()).Select(e => e.Client.Details["n"]));
        var leaving = Assert.Single(await left.Within());
        Assert.Equal("a", leaving.Client.Details["n"]);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, leaving.CloseStatus);
        Assert.Equal([1, 2, 1], (await changes.Within()).Select(e => e.Clients.Count));
        var remaining = Assert.Single(server.Clients);
        Assert.Equal("b", remaining.Details["n"]);
        Assert.Equal(System.Net.IPAddress.Loopback, remaining.RemoteEndPoint.Address);
        Assert.True(remaining.ConnectedAt <= DateTimeOffset.UtcNow);
        Assert.Equal(32, remaining.Id.Length);
    }

    [Fact]
    public async Task A_reader_that_falls_behind_loses_its_oldest_items_without_slowing_the_server()
    {
        await using var server = await TestServers.StartAsync(o => o.StreamBufferCapacity = 4);
        var fastCount = new Probe<int>();
        server.MessageReceived += (_, _) => fastCount.Add(1);
        await using var stalled = server.Messages.GetAsyncEnumerator();
        await using var client = new LocalWebSocketClient();
        await client.ConnectAsync(server.WebSocketUrl).Within();

        for (var i = 0; i < 20; i++)
        {
            await client.SendAsync($"m{i}");
        }

        await fastCount.WaitForCountAsync(20);
        var kept = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(await stalled.MoveNextAsync());
            kept.Add(stalled.Current.Message.Text);
        }

        Assert.Equal(["m16", "m17", "m18", "m19"], kept);
        Assert.Equal(16, server.GetStatistics().StreamItemsDropped);
    }

    [Fact]
    public async Task A_throwing_event_handler_does_not_break_routing()
    {
        await using var server = await TestServers.StartAsync();
        server.MessageReceived += (_, _) => throw new InvalidOperationException("handler bug");
        server.ClientConnected += (_, _) => throw new InvalidOperationException("handler bug");
        await using var a = new LocalWebSocketClient();
        await using var b = new LocalWebSocketClient();
        var got = new Probe<string>();
        b.MessageReceived += (_, m) => got.Add(m.Text);
        await a.ConnectAsync(server.WebSocketUrl).Within();
        await b.ConnectAsync(server.WebSocketUrl).Within();

        await a.SendAsync("one");
        await a.SendAsync("two");

        Assert.Equal(["one", "two"], await got.WaitForCountAsync(2));
    }

    [Fact]
    public async Task Details_arrive_decoded_from_the_query_string()
    {
        await using var server = await TestServers.StartAsync();
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var raw = await RawConnection.OpenAsync(server.Port);

        await raw.SendAsync(RawConnection.Upgrade("/ws?name=John+Doe&city=S%C3%A3o%20Paulo&flag&emoji=%F0%9F%98%80"));
        await raw.ReadHeadAsync();
        await using var empty = await RawConnection.OpenAsync(server.Port);
        await empty.SendAsync(RawConnection.Upgrade("/ws?"));
        var emptyHead = await empty.ReadHeadAsync();

        var clients = await joined.WaitForCountAsync(2);
        var details = clients.Single(c => c.Details.Count > 0).Details;
        Assert.Equal("John Doe", details["name"]);
        Assert.Equal("São Paulo", details["city"]);
        Assert.Equal("", details["flag"]);
        Assert.Equal("😀", details["emoji"]);
        Assert.StartsWith("HTTP/1.1 101", emptyHead, StringComparison.Ordinal);
        Assert.Empty(clients.Single(c => c.Details.Count == 0).Details);
    }
}
