using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

/// <summary>A client that stops reading must not slow the others, and is handled by the queue policy.</summary>
public sealed class SlowConsumerTests
{
    private const int MessageSize = 64 * 1024;

    /// <summary>A client that completes the handshake and then never reads, so its socket buffers fill up.</summary>
    private static async Task<RawConnection> StalledClientAsync(LocalWebSocketServer server)
    {
        var stalled = await RawConnection.OpenAsync(server.Port);
        stalled.Socket.ReceiveBufferSize = 4096;
        await stalled.SendAsync(RawConnection.Upgrade());
        await stalled.ReadHeadAsync();
        return stalled;
    }

    private static async Task<(LocalWebSocketClient Client, Probe<int> Received)> ReaderAsync(LocalWebSocketServer server)
    {
        var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { MaxMessageSize = 1024 * 1024 });
        var received = new Probe<int>();
        client.MessageReceived += (_, m) => received.Add(m.Data.Length);
        await client.ConnectAsync(server.WebSocketUrl).Within();
        return (client, received);
    }

    /// <summary>
    /// Broadcasts 64 KiB messages, paced by the healthy reader as a real app's producer would be, so that
    /// only the stalled client falls behind.
    /// </summary>
    private static async Task BroadcastPacedAsync(LocalWebSocketServer server, Probe<int> healthyReader, int count)
    {
        var payload = WebSocketMessage.FromBytes(new byte[MessageSize]);
        for (var i = 0; i < count; i++)
        {
            server.SendToAll(payload);
            if (i % 8 == 7)
            {
                await healthyReader.WaitForCountAsync(i - 7);
            }
        }
    }

    [Fact]
    public async Task Disconnect_mode_closes_the_stalled_client_with_1013_while_others_get_everything()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.SendQueueCapacity = 32;
            o.SendQueueFullMode = SendQueueFullMode.Disconnect;
            o.CloseTimeout = TimeSpan.FromMilliseconds(500);
        });
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await using var stalled = await StalledClientAsync(server);
        var (reader, received) = await ReaderAsync(server);
        await using var _ = reader;
        const int count = 400;

        // 400 × 64 KiB = 25 MiB: far more than the stalled client's socket buffers and queue can hold.
        await BroadcastPacedAsync(server, received, count);

        Assert.Equal(count, (await received.WaitForCountAsync(count)).Count);
        var gone = (await left.WaitForCountAsync(1))[0];
        Assert.True(gone.CloseStatus is null or (WebSocketCloseStatus)1013, gone.CloseStatus?.ToString());
        Assert.Equal(1, server.GetStatistics().SlowClientsDisconnected);
        Assert.Single(server.Clients);
    }

    [Fact]
    public async Task Drop_oldest_mode_keeps_the_stalled_client_and_counts_what_it_lost()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.SendQueueCapacity = 32;
            o.SendQueueFullMode = SendQueueFullMode.DropOldest;
        });
        await using var stalled = await StalledClientAsync(server);
        var (reader, received) = await ReaderAsync(server);
        await using var _ = reader;
        const int count = 400;

        await BroadcastPacedAsync(server, received, count);

        Assert.Equal(count, (await received.WaitForCountAsync(count)).Count);
        Assert.Equal(2, server.Clients.Count);
        Assert.True(server.GetStatistics().MessagesDropped > 0);
        Assert.All(server.Clients, c => Assert.InRange(c.QueuedMessageCount, 0, 32));
    }
}
