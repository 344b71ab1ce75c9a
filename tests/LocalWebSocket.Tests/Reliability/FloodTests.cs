using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.WebSockets;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;
using Xunit.Abstractions;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>
/// One client sends as fast as it can (small messages, or large ones that fill the queues' byte limit
/// first), in broadcast mode with default options, while a room of players
/// sends at a game's pace (100 messages a second each): relay backpressure slows the flooder to what the
/// room drains, no player is taken for a slow consumer, and the players' messages keep reaching each other.
/// The players, the flooder and the server share this process's cores, so under the flood a player's timer
/// fires late: like a game loop with a fixed time step, a player then sends every message its clock says is
/// due, which keeps the offered rate at 100 a second and makes the delivery rate the measure.
/// </summary>
[Collection(MeasurementCollection.Name)]
public sealed class FloodTests(ITestOutputHelper output)
{
    private const int Players = 8;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    [Theory]
    [InlineData(64)]
    [InlineData(256 * 1024)]
    public async Task A_flooding_client_is_slowed_down_and_the_others_keep_their_deliveries_and_their_connections(int floodMessageSize)
    {
        await using var server = await TestServers.StartAsync();
        var clock = Stopwatch.StartNew();
        var players = new List<Player>();
        for (var i = 0; i < Players; i++)
        {
            players.Add(await Player.JoinAsync(server, i, clock));
        }

        using var stop = new CancellationTokenSource();
        long floodedMessages = 0;
        var sending = players.Select(p => p.SendAtPaceAsync(stop.Token)).ToList();
        var receiving = players.Select(p => p.ReceiveAsync(stop.Token)).ToList();
        using var flooder = new ClientWebSocket();
        try
        {
            // Warm up, then a window without the flood and a window with it.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var quiet = await MeasureAsync(players, clock);

            await flooder.ConnectAsync(server.WebSocketUrl, CancellationToken.None);
            sending.Add(FloodAsync(flooder, floodMessageSize, () => Interlocked.Increment(ref floodedMessages), stop.Token));
            receiving.Add(DrainAsync(flooder, stop.Token));
            await Task.Delay(TimeSpan.FromSeconds(0.5));
            var flooded = await MeasureAsync(players, clock);

            output.WriteLine($"quiet: {quiet}");
            output.WriteLine($"flooded: {flooded}; flooder sent {Volatile.Read(ref floodedMessages)}");
            output.WriteLine($"statistics: {server.GetStatistics()}");
            // Every player stays (before relay backpressure, all eight were closed as slow consumers within a
            // second), the players' delivery rate is less than 10 % lower than without the flood, and what they
            // send still reaches the others within a second.
            Assert.All(players, p => Assert.Equal(WebSocketState.Open, p.Socket.State));
            Assert.Equal(0, server.GetStatistics().SlowClientsDisconnected);
            Assert.True(flooded.Rate >= quiet.Rate * 0.9, $"under the flood {flooded}; without it {quiet}");
            Assert.True(flooded.Fraction >= 0.9, $"under the flood {flooded}");
            Assert.True(flooded.P99Ms < 1000, $"under the flood {flooded}");
        }
        finally
        {
            // Every loop ends on cancellation (each catches what a cancelled socket throws).
            await stop.CancelAsync();
            await Task.WhenAll(sending.Concat(receiving)).WaitAsync(TestServers.Timeout);
            players.ForEach(p => p.Socket.Dispose());
        }
    }

    private static async Task FloodAsync(ClientWebSocket flooder, int size, Action sent, CancellationToken cancellationToken)
    {
        var payload = new byte[size];
        payload[0] = 0xFF;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await flooder.SendAsync(payload, WebSocketMessageType.Binary, true, cancellationToken);
                sent();
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
        {
        }
    }

    private static async Task DrainAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await socket.ReceiveAsync(buffer, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
        {
        }
    }

    private static async Task<Measure> MeasureAsync(List<Player> players, Stopwatch clock)
    {
        var delivered = players.Sum(p => p.Delivered);
        var sent = players.Sum(p => p.Sent);
        players.ForEach(p => p.ResetLatencies());
        var start = clock.Elapsed;
        await Task.Delay(Window);
        var elapsed = clock.Elapsed - start;
        var latencies = players.SelectMany(p => p.Latencies()).Order().ToList();
        var p99 = latencies.Count == 0 ? double.NaN : latencies[(int)(latencies.Count * 0.99)];
        return new Measure(
            (players.Sum(p => p.Delivered) - delivered) / elapsed.TotalSeconds,
            (players.Sum(p => p.Sent) - sent) * (Players - 1) / elapsed.TotalSeconds,
            p99);
    }

    /// <summary>Deliveries of players' messages per second, and how many their sends called for.</summary>
    private sealed record Measure(double Rate, double Due, double P99Ms)
    {
        public double Fraction => Rate / Due;

        public override string ToString() => $"{Rate:F0} player deliveries/s of {Due:F0} due ({Fraction:P1}), p99 latency {P99Ms:F1} ms";
    }

    private sealed class Player(ClientWebSocket socket, int index, Stopwatch clock)
    {
        private readonly List<double> _latencies = [];
        private long _delivered;
        private long _sent;

        public ClientWebSocket Socket { get; } = socket;

        public long Delivered => Interlocked.Read(ref _delivered);

        public long Sent => Interlocked.Read(ref _sent);

        public static async Task<Player> JoinAsync(LocalWebSocketServer server, int index, Stopwatch clock)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(server.WebSocketUrl, CancellationToken.None);
            return new Player(socket, index, clock);
        }

        public void ResetLatencies()
        {
            lock (_latencies)
            {
                _latencies.Clear();
            }
        }

        public List<double> Latencies()
        {
            lock (_latencies)
            {
                return [.. _latencies];
            }
        }

        public async Task SendAtPaceAsync(CancellationToken cancellationToken)
        {
            using var timer = new PeriodicTimer(Tick);
            var message = new byte[16];
            message[0] = (byte)index;
            var start = clock.Elapsed;
            try
            {
                while (await timer.WaitForNextTickAsync(cancellationToken))
                {
                    // Missed ticks are coalesced by the timer: catch up on what is due by now.
                    var due = (long)((clock.Elapsed - start) / Tick);
                    while (Sent < due)
                    {
                        BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(8), clock.ElapsedTicks);
                        await Socket.SendAsync(message, WebSocketMessageType.Binary, true, cancellationToken);
                        Interlocked.Increment(ref _sent);
                    }
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
            {
            }
        }

        public async Task ReceiveAsync(CancellationToken cancellationToken)
        {
            // A message's first 16 bytes stay at the start of the buffer, however the reads split it.
            var buffer = new byte[4096];
            var length = 0;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var result = await Socket.ReceiveAsync(buffer.AsMemory(Math.Min(length, 16)), cancellationToken);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    length += result.Count;
                    if (!result.EndOfMessage)
                    {
                        continue;
                    }

                    var whole = length;
                    length = 0;
                    if (whole == 16 && buffer[0] < Players)
                    {
                        Interlocked.Increment(ref _delivered);
                        var sent = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8));
                        lock (_latencies)
                        {
                            _latencies.Add((clock.ElapsedTicks - sent) * 1000.0 / Stopwatch.Frequency);
                        }
                    }
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
            {
            }
        }
    }
}
