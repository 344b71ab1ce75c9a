using System.Net.WebSockets;
using LocalWebSocket.Client;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

public sealed class RoutingTests
{
    private sealed class Peer : IAsyncDisposable
    {
        public LocalWebSocketClient Client { get; } = new(new LocalWebSocketClientOptions
        {
            MaxMessageSize = 32 * 1024 * 1024,
            ReconnectPolicy = ReconnectPolicy.None,
        });

        public Probe<WebSocketMessage> Received { get; } = new();

        public static async Task<Peer> ConnectAsync(LocalWebSocketServer server)
        {
            var peer = new Peer();
            peer.Client.MessageReceived += (_, m) => peer.Received.Add(m);
            await peer.Client.ConnectAsync(server.WebSocketUrl).Within();
            return peer;
        }

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }

    private static async Task<Peer[]> ConnectAsync(LocalWebSocketServer server, int count)
    {
        var peers = new Peer[count];
        for (var i = 0; i < count; i++)
        {
            peers[i] = await Peer.ConnectAsync(server);
        }

        await WaitForClientsAsync(server, count);
        return peers;
    }

    private static async Task WaitForClientsAsync(LocalWebSocketServer server, int count)
    {
        var changed = new Probe<int>();
        server.ClientsChanged += (_, e) => changed.Add(e.Clients.Count);
        changed.Add(server.Clients.Count);
        await changed.WaitUntilAsync(seen => seen[^1] == count);
    }

    [Fact]
    public async Task Broadcast_mode_relays_to_every_other_client()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        var peers = await ConnectAsync(server, 4);

        await peers[0].Client.SendAsync("from 0");
        await peers[1].Client.SendAsync("from 1");

        foreach (var peer in peers.Skip(2))
        {
            var got = await peer.Received.WaitForCountAsync(2);
            Assert.Equal(["from 0", "from 1"], got.Select(m => m.Text).Order());
        }

        Assert.Equal(["from 1"], (await peers[0].Received.WaitForCountAsync(1)).Select(m => m.Text));
        Assert.Equal(["from 0"], (await peers[1].Received.WaitForCountAsync(1)).Select(m => m.Text));

        // A marker sent after the messages proves that the senders got nothing more.
        server.SendToAll("marker");
        await peers[0].Received.WaitUntilAsync(m => m[^1].Text == "marker");
        Assert.Equal(2, peers[0].Received.Items.Count);
        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }

    [Fact]
    public async Task Echo_mode_relays_to_every_client_including_the_sender()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        var peers = await ConnectAsync(server, 3);

        await peers[0].Client.SendAsync("hello all");

        foreach (var peer in peers)
        {
            Assert.Equal("hello all", (await peer.Received.WaitForCountAsync(1))[0].Text);
            await peer.DisposeAsync();
        }
    }

    [Fact]
    public async Task None_mode_relays_nothing_but_raises_the_message()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.None);
        var atServer = new Probe<MessageReceivedEventArgs>();
        server.MessageReceived += (_, e) => atServer.Add(e);
        var peers = await ConnectAsync(server, 2);

        await peers[0].Client.SendAsync("to the host only");
        var seen = await atServer.WaitForCountAsync(1);
        server.SendToAll("marker");

        await peers[1].Received.WaitUntilAsync(m => m.Count >= 1);
        Assert.Equal(["marker"], peers[1].Received.Items.Select(m => m.Text));
        Assert.Equal("to the host only", seen[0].Message.Text);
        Assert.Equal(server.Clients.Single(c => c.Id == seen[0].Client.Id), seen[0].Client);
        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(1024 * 1024)]
    [InlineData(16 * 1024 * 1024)]
    public async Task Binary_and_text_of_every_size_arrive_whole_and_keep_their_type(int size)
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        await using var peer = await Peer.ConnectAsync(server);
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        var text = new string('é', size / 2);

        await peer.Client.SendAsync(bytes.AsMemory());
        await peer.Client.SendAsync(text);

        var got = await peer.Received.WaitForCountAsync(2);
        Assert.Equal(WebSocketMessageType.Binary, got[0].Type);
        Assert.True(bytes.AsSpan().SequenceEqual(got[0].Data.Span));
        Assert.Equal(WebSocketMessageType.Text, got[1].Type);
        Assert.Equal(text, got[1].Text);
    }

    [Theory]
    [InlineData(RoutingMode.Broadcast, 3)]
    [InlineData(RoutingMode.Broadcast, 20)]
    [InlineData(RoutingMode.Echo, 1)]
    public async Task A_burst_read_at_once_reaches_every_receiver_whole_and_in_order(RoutingMode routing, int receivers)
    {
        // The sender's frames arrive in one read, so the receivers' writers start only once all are routed.
        await using var server = await TestServers.StartAsync(o => o.Routing = routing);
        var peers = await ConnectAsync(server, receivers);
        await using var sender = await RawConnection.OpenAsync(server.Port);
        await sender.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await sender.ReadHeadAsync()));
        await WaitForClientsAsync(server, receivers + 1);
        const int Count = 200;

        await sender.SendAsync(RawConnection.MaskedBinaryFrames(Enumerable.Range(0, Count).Select(i => BitConverter.GetBytes(i))));

        foreach (var peer in peers)
        {
            var got = await peer.Received.WaitForCountAsync(Count);
            Assert.Equal(Enumerable.Range(0, Count), got.Take(Count).Select(m => BitConverter.ToInt32(m.Data.Span)));
        }

        if (routing == RoutingMode.Echo)
        {
            var echoed = new byte[Count * 6];
            await sender.Stream.ReadExactlyAsync(echoed).AsTask().WaitAsync(TestServers.Timeout);
            Assert.Equal(Count - 1, BitConverter.ToInt32(echoed.AsSpan(echoed.Length - 4)));
        }

        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(10_000)]
    [InlineData(-1)]
    public async Task Keep_alive_frames_written_between_coalesced_frames_never_corrupt_the_stream(int keepAliveTimeoutMs)
    {
        // A keep-alive frame every millisecond, from the WebSocket's timer, while the writers coalesce a
        // stream of messages (some larger than the write buffer). The stream has no lock: it relies on the
        // WebSocket writing one frame at a time, keep-alives included, and on the batch being written only
        // by such a write. A frame written out of turn would garble what the receivers get.
        await using var server = await TestServers.StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(1);
            o.KeepAliveTimeout = keepAliveTimeoutMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(keepAliveTimeoutMs);
        });
        var peers = await ConnectAsync(server, 3);
        await using var sender = await Peer.ConnectAsync(server);
        await WaitForClientsAsync(server, 4);
        const int Count = 1500;

        for (var i = 0; i < Count; i++)
        {
            var payload = new byte[i % 100 == 0 ? 20_000 : 700 + (i % 50)];
            BitConverter.TryWriteBytes(payload, i);
            payload.AsSpan(4).Fill((byte)i);
            await sender.Client.SendAsync(payload.AsMemory());
        }

        foreach (var peer in peers)
        {
            var got = await peer.Received.WaitForCountAsync(Count);
            for (var i = 0; i < Count; i++)
            {
                var data = got[i].Data.Span;
                Assert.Equal(i, BitConverter.ToInt32(data));
                Assert.True(data[4..].IndexOfAnyExcept((byte)i) < 0, $"message {i} arrived garbled");
            }

            Assert.True(peer.Client.IsConnected);
        }

        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }

    [Fact]
    public async Task Fragmented_messages_are_reassembled_and_relayed_whole()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        await using var receiver = await Peer.ConnectAsync(server);
        using var sender = new ClientWebSocket();
        await sender.ConnectAsync(server.WebSocketUrl, CancellationToken.None).Within();
        await WaitForClientsAsync(server, 2);

        await sender.SendAsync("frag"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        await sender.SendAsync("men"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        await sender.SendAsync("ted"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        await sender.SendAsync(new byte[] { 1, 2 }, WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        await sender.SendAsync(new byte[] { 3 }, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

        var got = await receiver.Received.WaitForCountAsync(2);
        Assert.Equal("fragmented", got[0].Text);
        Assert.Equal(new byte[] { 1, 2, 3 }, got[1].ToArray());
        Assert.True(got[1].IsBinary);
    }

    [Fact]
    public async Task An_oversized_message_in_the_same_read_as_a_good_one_is_caught_after_the_good_one_is_relayed()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxMessageSize = 100);
        await using var other = await Peer.ConnectAsync(server);
        await using var sender = await RawConnection.OpenAsync(server.Port);
        await sender.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await sender.ReadHeadAsync()));
        await WaitForClientsAsync(server, 2);

        await sender.SendAsync(RawConnection.MaskedBinaryFrames([[1, 2, 3], new byte[101], [4]]));

        Assert.Equal(new byte[] { 1, 2, 3 }, (await other.Received.WaitForCountAsync(1))[0].ToArray());
        var close = new byte[4];
        await sender.Stream.ReadExactlyAsync(close).AsTask().WaitAsync(TestServers.Timeout);
        Assert.Equal(0x88, close[0]);
        Assert.Equal(1009, (close[2] << 8) | close[3]);
        Assert.Equal(1, server.GetStatistics().OversizedMessages);
        Assert.Single(other.Received.Items);
    }

    [Fact]
    public async Task Oversized_message_closes_the_sender_with_1009_and_others_keep_working()
    {
        await using var server = await TestServers.StartAsync(o => o.MaxMessageSize = 1000);
        await using var other = await Peer.ConnectAsync(server);
        await using var sender = await Peer.ConnectAsync(server);
        var states = new Probe<ConnectionStateChangedEventArgs>();
        sender.Client.StateChanged += (_, e) => states.Add(e);
        await WaitForClientsAsync(server, 2);

        await sender.Client.SendAsync(new byte[1000].AsMemory());
        await other.Received.WaitForCountAsync(1);
        await sender.Client.SendAsync(new byte[1001].AsMemory());

        await states.WaitUntilAsync(s => s.Any(e => e.State == ConnectionState.Disconnected));
        var closed = states.Items.Single(e => e.State == ConnectionState.Disconnected);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, closed.CloseStatus);
        Assert.Equal(1, server.GetStatistics().OversizedMessages);

        await using var third = await Peer.ConnectAsync(server);
        await third.Client.SendAsync("still relaying");
        Assert.Equal("still relaying", (await other.Received.WaitForCountAsync(2))[1].Text);
    }

    [Fact]
    public async Task Concurrent_sends_from_many_threads_all_arrive_whole()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        await using var sender = await Peer.ConnectAsync(server);
        await using var receiver = await Peer.ConnectAsync(server);
        await WaitForClientsAsync(server, 2);
        const int threads = 8;
        const int perThread = 200;

        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < perThread; i++)
            {
                await sender.Client.SendAsync($"{t}:{i}:{new string('x', i)}");
            }
        }))).Within();

        var got = await receiver.Received.WaitForCountAsync(threads * perThread);
        Assert.Equal(threads * perThread, got.Count);
        Assert.Equal(threads * perThread, got.Select(m => m.Text).Distinct().Count());
        foreach (var group in got.Select(m => m.Text.Split(':')).GroupBy(p => p[0]))
        {
            // Each thread's messages keep their order and their content.
            Assert.Equal(Enumerable.Range(0, perThread), group.Select(p => int.Parse(p[1])));
            Assert.All(group, p => Assert.Equal(int.Parse(p[1]), p[2].Length));
        }
    }

    [Fact]
    public async Task Server_sends_to_all_to_one_and_to_a_filtered_set_from_many_threads()
    {
        await using var server = await TestServers.StartAsync();
        await using var red = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["team"] = "red" } });
        await using var blue = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["team"] = "blue" } });
        var redGot = new Probe<string>();
        var blueGot = new Probe<string>();
        red.MessageReceived += (_, m) => redGot.Add(m.Text);
        blue.MessageReceived += (_, m) => blueGot.Add(m.Text);
        await red.ConnectAsync(server.WebSocketUrl).Within();
        await blue.ConnectAsync(server.WebSocketUrl).Within();
        await WaitForClientsAsync(server, 2);
        var redId = server.Clients.Single(c => c.Details["team"] == "red").Id;

        Assert.Equal(2, server.SendToAll("all"));
        Assert.True(server.SendTo(redId, WebSocketMessage.FromText("only red")));
        Assert.False(server.SendTo("no-such-client", WebSocketMessage.FromText("nobody")));
        Assert.Equal(1, server.SendWhere(c => c.Details["team"] == "blue", WebSocketMessage.FromText("only blue")));
        Parallel.For(0, 100, i => server.SendToAll($"n{i}"));

        await redGot.WaitForCountAsync(102);
        await blueGot.WaitForCountAsync(102);
        Assert.Equal(["all", "only red"], redGot.Items.Take(2));
        Assert.Equal(["all", "only blue"], blueGot.Items.Take(2));
        Assert.Equal(100, redGot.Items.Skip(2).Distinct().Count());
    }

    [Fact]
    public async Task Statistics_count_each_message_received_and_each_delivery()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        var countSeenByHandler = new Probe<long>();
        server.MessageReceived += (_, _) => countSeenByHandler.Add(server.GetStatistics().MessagesReceived);
        var peers = await ConnectAsync(server, 3);
        const int Messages = 300;
        var sizes = Enumerable.Range(0, Messages).Select(i => i * 7 % 200).ToArray();

        // Sent without waiting, so that the server reads them in bursts and counts them a burst at a time.
        await Task.WhenAll(sizes.Select(size => peers[0].Client.SendAsync(new byte[size]).AsTask())).Within();
        await peers[1].Received.WaitForCountAsync(Messages);
        await peers[2].Received.WaitForCountAsync(Messages);
        await TestServers.UntilAsync(() => server.GetStatistics().MessagesSent == 2 * Messages, "every delivery counted");

        var statistics = server.GetStatistics();
        Assert.Equal(Messages, statistics.MessagesReceived);
        Assert.Equal(sizes.Sum(), statistics.BytesReceived);
        Assert.Equal(2L * sizes.Sum(), statistics.BytesSent);

        // A handler of the message finds it counted already.
        var seen = await countSeenByHandler.WaitForCountAsync(Messages);
        Assert.All(seen.Select((count, index) => (count, index)), s => Assert.True(s.count >= s.index + 1, $"message {s.index + 1} saw {s.count}"));
        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_filter_that_throws_midway_leaves_the_message_whole_for_those_it_selected()
    {
        await using var server = await TestServers.StartAsync();
        var peers = await ConnectAsync(server, 3);
        var asked = 0;

        Assert.Throws<InvalidOperationException>(() => server.SendWhere(
            _ => ++asked == 1 ? true : throw new InvalidOperationException("filter failed"),
            WebSocketMessage.FromText("before the failure")));
        server.SendToAll("after");

        var got = new List<string>();
        foreach (var peer in peers)
        {
            await peer.Received.WaitUntilAsync(m => m.Count > 0 && m[^1].Text == "after");
            got.Add(string.Join(",", peer.Received.Items.Select(m => m.Text)));
            await peer.DisposeAsync();
        }

        Assert.Equal(["after", "after", "before the failure,after"], got.Order());
    }

    [Fact]
    public async Task Server_disconnects_one_client_with_a_code_and_reason()
    {
        await using var server = await TestServers.StartAsync();
        await using var kept = await Peer.ConnectAsync(server);
        await using var kicked = await Peer.ConnectAsync(server);
        var states = new Probe<ConnectionStateChangedEventArgs>();
        kicked.Client.StateChanged += (_, e) => states.Add(e);
        var left = new Probe<ClientDisconnectedEventArgs>();
        server.ClientDisconnected += (_, e) => left.Add(e);
        await WaitForClientsAsync(server, 2);
        var id = server.Clients[1].Id;

        Assert.True(await server.DisconnectClientAsync(id, (WebSocketCloseStatus)4000, "kicked").Within());

        await states.WaitUntilAsync(s => s.Any(e => e.State == ConnectionState.Disconnected));
        var closed = states.Items.Single(e => e.State == ConnectionState.Disconnected);
        Assert.Equal(4000, (int)closed.CloseStatus!);
        Assert.Equal("kicked", closed.CloseDescription);
        Assert.Equal(4000, (int)(await left.WaitForCountAsync(1))[0].CloseStatus!);
        Assert.Single(server.Clients);
        Assert.True(kept.Client.IsConnected);
    }

    /// <summary>Accepts every message; on the one numbered <paramref name="waitOn"/>, first waits for <paramref name="until"/>.</summary>
    private sealed class WaitingValidator(int waitOn, Func<Task> until, bool blockThread) : IMessageValidator
    {
        public async ValueTask<MessageVerdict> ValidateAsync(ConnectedClient client, IncomingMessage message, CancellationToken cancellationToken)
        {
            if (BitConverter.ToInt32(message.Data.Span) == waitOn)
            {
                if (blockThread)
                {
                    // Synchronous on purpose: the receive loop cannot tell that this validator waits.
                    until().Wait(cancellationToken);
                }
                else
                {
                    await until();
                }
            }

            return MessageVerdict.Accept;
        }
    }

    private static async Task<RawConnection> UpgradedSenderAsync(LocalWebSocketServer server, int clients)
    {
        var sender = await RawConnection.OpenAsync(server.Port);
        await sender.SendAsync(RawConnection.Upgrade());
        Assert.Equal(101, RawConnection.StatusOf(await sender.ReadHeadAsync()));
        await WaitForClientsAsync(server, clients);
        return sender;
    }

    [Fact]
    public async Task A_validator_that_waits_does_not_hold_back_what_was_routed_before_it()
    {
        // Messages 0 and 1 arrive in one read: the loop would start message 0's writer only before waiting for
        // data, but it waits for the validator of message 1 first, which waits for message 0 to be delivered.
        Peer? receiver = null;
        await using var server = await TestServers.StartAsync(o =>
            o.MessageValidator = new WaitingValidator(1, () => receiver!.Received.WaitForCountAsync(1), blockThread: false));
        receiver = (await ConnectAsync(server, 1))[0];
        await using var sender = await UpgradedSenderAsync(server, 2);

        await sender.SendAsync(RawConnection.MaskedBinaryFrames(Enumerable.Range(0, 2).Select(i => BitConverter.GetBytes(i))));

        var got = await receiver.Received.WaitForCountAsync(2);
        Assert.Equal([0, 1], got.Select(m => BitConverter.ToInt32(m.Data.Span)));
        await receiver.DisposeAsync();
    }

    [Theory]
    [InlineData(3 * FanOutBatch.MaxMessages, 4)]
    [InlineData(3 * FanOutBatch.MaxBytes / (16 * 1024), 16 * 1024)]
    public async Task A_sender_that_never_pauses_does_not_hold_back_its_receivers_until_it_stops(int count, int size)
    {
        // Three batches' worth of messages are sent in one write, so the loop hardly waits for data while it
        // routes them; the validator of the last one blocks until the first has been delivered. Only a batch
        // that starts after FanOutBatch.MaxMessages messages (or MaxBytes), data or not, lets it through.
        Peer? receiver = null;
        await using var server = await TestServers.StartAsync(o =>
            o.MessageValidator = new WaitingValidator(count - 1, () => receiver!.Received.WaitForCountAsync(1), blockThread: true));
        receiver = (await ConnectAsync(server, 1))[0];
        await using var sender = await UpgradedSenderAsync(server, 2);

        await sender.SendAsync(RawConnection.MaskedBinaryFrames(Enumerable.Range(0, count).Select(i => Numbered(i, size))));

        var got = await receiver.Received.WaitForCountAsync(count);
        Assert.Equal(Enumerable.Range(0, count), got.Select(m => BitConverter.ToInt32(m.Data.Span)));
        Assert.All(got, m => Assert.Equal(size, m.Data.Length));
        await receiver.DisposeAsync();
    }

    /// <summary>A message of <paramref name="size"/> bytes that starts with its number.</summary>
    private static byte[] Numbered(int number, int size)
    {
        var message = new byte[size];
        BitConverter.TryWriteBytes(message, number);
        return message;
    }
}
