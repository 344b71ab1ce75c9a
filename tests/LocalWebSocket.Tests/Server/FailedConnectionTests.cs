using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

/// <summary>
/// A connection failed on bad input (RFC 6455 section 7.1.7) loses nothing that arrived whole before the bad
/// frame: the echoes and relays of those messages go out, in order, before the close frame (Autobahn 3.2-3.4,
/// 4.1.3-4.1.5, 4.2.3-4.2.5, 5.15), and the other clients are not affected.
/// </summary>
public sealed class FailedConnectionTests
{
    private const int Count = 50;

    [Theory]
    [InlineData(new byte[] { 0xA2, 0x80, 1, 2, 3, 4 }, 1002)] // RSV2 set, nothing negotiated.
    [InlineData(new byte[] { 0x83, 0x80, 1, 2, 3, 4 }, 1002)] // Reserved opcode 3.
    [InlineData(new byte[] { 0x80, 0x80, 1, 2, 3, 4 }, 1002)] // A continuation with nothing to continue.
    [InlineData(new byte[] { 0x81, 0x82, 0, 0, 0, 0, 0xC0, 0xAF }, 1007)] // Overlong UTF-8.
    public async Task Whole_messages_before_a_bad_frame_are_echoed_in_order_then_the_connection_fails(byte[] badFrame, int expectedCode)
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var healthy = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var healthyGot = new Probe<WebSocketMessage>();
        healthy.MessageReceived += (_, m) => healthyGot.Add(m);
        await healthy.ConnectAsync(server.WebSocketUrl).Within();
        await using var bad = await RawConnection.OpenAsync(server.Port);
        await bad.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await bad.ReadHeadAsync()));

        // Every message and the bad frame in one write: they arrive together, as in the Autobahn cases.
        var payloads = Enumerable.Range(0, Count).Select(BitConverter.GetBytes).ToList();
        await bad.SendAsync([.. RawConnection.MaskedBinaryFrames(payloads), .. badFrame]);

        var frames = await ReadFramesUntilCloseAsync(bad);
        Assert.Equal(Count + 1, frames.Count);
        for (var i = 0; i < Count; i++)
        {
            Assert.Equal(0x82, frames[i].Header);
            Assert.Equal(payloads[i], frames[i].Payload);
        }

        Assert.Equal(0x88, frames[^1].Header);
        Assert.Equal(expectedCode, (frames[^1].Payload[0] << 8) | frames[^1].Payload[1]);

        // The healthy client got every message too, and goes on as before.
        var got = await healthyGot.WaitForCountAsync(Count);
        Assert.Equal(payloads, got.Select(m => m.ToArray()));
        await healthy.SendAsync("still here");
        await healthyGot.WaitUntilAsync(items => items.Count > Count && items[^1].Text == "still here");
        await TestServers.UntilAsync(() => server.GetStatistics().ClientsConnected == 1, "the failed client left");
    }

    [Fact]
    public async Task Whole_messages_before_a_bad_frame_are_relayed_to_the_others_in_broadcast_mode()
    {
        await using var server = await TestServers.StartAsync();
        await using var receiver = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var got = new Probe<WebSocketMessage>();
        receiver.MessageReceived += (_, m) => got.Add(m);
        await receiver.ConnectAsync(server.WebSocketUrl).Within();
        await using var bad = await RawConnection.OpenAsync(server.Port);
        await bad.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await bad.ReadHeadAsync()));
        await TestServers.UntilAsync(() => server.GetStatistics().ClientsConnected == 2, "both joined");

        var payloads = Enumerable.Range(0, Count).Select(BitConverter.GetBytes).ToList();
        await bad.SendAsync([.. RawConnection.MaskedBinaryFrames(payloads), 0xA2, 0x80, 1, 2, 3, 4]);

        var frames = await ReadFramesUntilCloseAsync(bad);
        Assert.Equal(1002, (frames.Single().Payload[0] << 8) | frames.Single().Payload[1]);
        Assert.Equal(payloads, (await got.WaitForCountAsync(Count)).Select(m => m.ToArray()));
    }

    [Theory]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // A UTF-16 surrogate (Autobahn 6.4.1).
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // Above U+10FFFF (Autobahn 6.4.2).
    public async Task Invalid_UTF_8_in_a_fragment_fails_the_connection_before_the_message_ends(byte[] invalid)
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var bad = await RawConnection.OpenAsync(server.Port);
        await bad.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await bad.ReadHeadAsync()));

        // A valid first fragment, then the invalid one, and the message's end never sent: the server must
        // not wait for it (RFC 6455 section 8.1).
        await bad.SendAsync([.. Masked(0x01, "κόσμε"u8.ToArray()), .. Masked(0x00, invalid)]);

        var frames = await ReadFramesUntilCloseAsync(bad);
        Assert.Equal(1007, (frames.Single().Payload[0] << 8) | frames.Single().Payload[1]);
    }

    /// <summary>One client frame (masked, under 126 bytes) with the given first byte.</summary>
    private static byte[] Masked(byte header, byte[] payload)
    {
        byte[] mask = [0x11, 0x22, 0x33, 0x44];
        return [header, (byte)(0x80 | payload.Length), .. mask, .. payload.Select((b, i) => (byte)(b ^ mask[i % 4]))];
    }

    private sealed record Frame(byte Header, byte[] Payload);

    /// <summary>Reads the server's (unmasked) frames until its close frame or the end of the stream.</summary>
    private static async Task<List<Frame>> ReadFramesUntilCloseAsync(RawConnection connection)
    {
        var frames = new List<Frame>();
        var stream = connection.Stream;
        using var timeout = new CancellationTokenSource(TestServers.Timeout);
        var head = new byte[2];
        while (frames.Count <= Count + 1)
        {
            if (!await TryReadExactlyAsync(stream, head, timeout.Token))
            {
                break;
            }

            long length = head[1] & 0x7F;
            if (length >= 126)
            {
                var extended = new byte[length == 126 ? 2 : 8];
                await stream.ReadExactlyAsync(extended, timeout.Token);
                length = extended.Aggregate(0L, (value, b) => (value << 8) | b);
            }

            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, timeout.Token);
            frames.Add(new Frame(head[0], payload));
            if (head[0] == 0x88)
            {
                break;
            }
        }

        return frames;
    }

    private static async Task<bool> TryReadExactlyAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }
}
