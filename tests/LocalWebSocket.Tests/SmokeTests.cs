using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Two_clients_exchange_text_in_broadcast_mode()
    {
        await using var server = await TestServers.StartAsync();
        await using var alice = new LocalWebSocketClient();
        await using var bob = new LocalWebSocketClient();
        var received = new Probe<WebSocketMessage>();
        bob.MessageReceived += (_, m) => received.Add(m);

        await alice.ConnectAsync(server.WebSocketUrl).Within();
        await bob.ConnectAsync(server.WebSocketUrl).Within();
        await alice.SendAsync("hello bob");

        var messages = await received.WaitForCountAsync(1);
        Assert.Equal("hello bob", messages[0].Text);
        Assert.True(messages[0].IsText);
    }
}
