// The load generator of bench/run.sh. It drives any server with the same raw ClientWebSocket code, on
// loopback only, every loop bounded in count and time, and prints one JSON object per result:
//   LoadGen rtt URL SECONDS PID                     round trip, 32 B ping-pong on one connection
//   LoadGen echo URL SIZE SECONDS PID               pipelined echo on one connection
//   LoadGen rawecho URL SECONDS PID                 pipelined 32 B echo from a raw-socket client that costs little CPU
//   LoadGen fanout URL RECEIVERS SECONDS PID [slow] one sender, RECEIVERS readers (one stalled when "slow")
//   LoadGen storm URL COUNT PID [HOLD]              COUNT connections opened 100 at a time, kept, measured
//                                                   (then held HOLD seconds more, for bench/census.sh)
//   LoadGen many URL COUNT                          COUNT connections, then one broadcast that all must get
//   LoadGen client URL SECONDS raw|lws              pipelined 32 B echo through a raw ClientWebSocket or our client
//   LoadGen report RESULTS.jsonl                    the Markdown table, each figure as a ratio to Kestrel
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;

return args[0] switch
{
    "rtt" => await Scenarios.RoundTripAsync(new Uri(args[1]), Seconds(args[2]), Pid(args, 3)),
    "echo" => await Scenarios.EchoAsync(new Uri(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture), Seconds(args[3]), Pid(args, 4)),
    "rawecho" => await Scenarios.RawEchoAsync(new Uri(args[1]), Seconds(args[2]), Pid(args, 3)),
    "fanout" => await Scenarios.FanOutAsync(new Uri(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture), Seconds(args[3]), Pid(args, 4), args.Length > 5 && args[5] == "slow"),
    "storm" => await Scenarios.StormAsync(
        new Uri(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture), Pid(args, 3), args.Length > 4 ? Seconds(args[4]) : TimeSpan.Zero),
    "many" => await Scenarios.ManyAsync(new Uri(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture)),
    "client" => args[3] == "lws"
        ? await Scenarios.OurClientEchoAsync(new Uri(args[1]), Seconds(args[2]))
        : await Scenarios.EchoAsync(new Uri(args[1]), 32, Seconds(args[2]), 0, "client-raw"),
    "report" => Report.Print(args[1]),
    _ => 2,
};

static TimeSpan Seconds(string text) => TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture));

static int Pid(string[] args, int index) => args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : 0;

internal static class Scenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static async Task<int> RoundTripAsync(Uri url, TimeSpan duration, int pid)
    {
        using var socket = await ConnectAsync(url);
        var payload = new byte[32];
        var buffer = new byte[64];
        var samples = new List<double>(200_000);
        var cpu = ServerCpu.Start(pid);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && samples.Count < 200_000)
        {
            var start = Stopwatch.GetTimestamp();
            await socket.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
            await ReceiveWholeAsync(socket, buffer);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        samples.Sort();
        Emit(new JsonObject
        {
            ["scenario"] = "rtt",
            ["messages"] = samples.Count,
            ["p50us"] = Math.Round(samples[samples.Count / 2], 1),
            ["p99us"] = Math.Round(samples[(int)(samples.Count * 0.99)], 1),
            ["serverCpuUsPerMessage"] = cpu.MicrosecondsPer(samples.Count),
        });
        return 0;
    }

    /// <summary>Pipelined runs start measuring after this much of the same traffic: the steady state, JIT done.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Sends for <paramref name="length"/>, each message once the window has room, then waits until every
    /// message in flight is back (the window whole again) and takes the window's room back.
    /// </summary>
    private static async Task PipelineAsync(SemaphoreSlim window, int inFlight, TimeSpan length, Func<ValueTask> sendOne)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < length)
        {
            await window.WaitAsync();
            await sendOne();
        }

        for (var i = 0; i < inFlight; i++)
        {
            await window.WaitAsync(Deadline);
        }

        window.Release(inFlight);
    }

    public static async Task<int> EchoAsync(Uri url, int size, TimeSpan duration, int pid, string? name = null)
    {
        using var socket = await ConnectAsync(url);
        var payload = new byte[size];
        var inFlight = size >= 16 * 1024 ? 16 : 256;
        var window = new SemaphoreSlim(inFlight);
        var received = 0L;
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[Math.Max(size, 64) + 64];
            while (true)
            {
                await ReceiveWholeAsync(socket, buffer);
                Interlocked.Increment(ref received);
                window.Release();
            }
        });
        ValueTask SendOne() => socket.SendAsync(payload.AsMemory(), WebSocketMessageType.Binary, true, CancellationToken.None);
        await PipelineAsync(window, inFlight, WarmUp, SendOne);

        Interlocked.Exchange(ref received, 0);
        var cpu = ServerCpu.Start(pid);
        var ownCpu = OwnCpu.Start();
        var clock = Stopwatch.StartNew();
        await PipelineAsync(window, inFlight, duration, SendOne);
        var seconds = clock.Elapsed.TotalSeconds;

        // The reader waits for more until its socket goes: a reader that stopped on a flag could be waiting
        // for a message that never comes.
        socket.Abort();
        await reader.ContinueWith(_ => { }, TaskScheduler.Default);
        Emit(new JsonObject
        {
            ["scenario"] = name ?? $"echo{size}",
            ["messagesPerSecond"] = Math.Round(received / seconds),
            ["megabytesPerSecond"] = Math.Round(received * (double)size / seconds / 1e6, 1),
            ["serverCpuUsPerMessage"] = cpu.MicrosecondsPer(received),
            ["clientCpuUsPerMessage"] = ownCpu.MicrosecondsPer(received),
        });
        return 0;
    }

    /// <summary>
    /// The pipelined 32 B echo again, from a client that costs little: it writes pre-masked frames 64 at a
    /// time on a raw socket and counts the echoed frames. With <see cref="ClientWebSocket"/> the client uses
    /// more CPU than any server here, on the same 2 cores, so that figure says more about the client. The
    /// window is deeper (1,024 messages) because at a million messages per second 256 in flight is a
    /// quarter of a millisecond of work: the figure would measure the round trip, not the throughput.
    /// </summary>
    public static async Task<int> RawEchoAsync(Uri url, TimeSpan duration, int pid)
    {
        const int PayloadSize = 32, Chunk = 64, Window = 1024;
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(url.Host, url.Port);
        var upgrade = $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(upgrade));
        var buffer = new byte[64 * 1024];
        var filled = 0;
        int headEnd;
        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled, 4096 - filled)).AsTask().WaitAsync(Deadline);
            filled += read > 0 ? read : throw new InvalidOperationException("The server closed during the upgrade.");
        }

        if (!buffer.AsSpan().StartsWith("HTTP/1.1 101"u8))
        {
            throw new InvalidOperationException("The server refused the upgrade.");
        }

        // One chunk of masked binary frames (FIN, opcode 2, mask bit, 32 B), written as it is every time.
        var frame = new byte[6 + PayloadSize];
        frame[0] = 0x82;
        frame[1] = 0x80 | PayloadSize;
        "\x12\x34\x56\x78"u8.CopyTo(frame.AsSpan(2));
        var chunk = new byte[frame.Length * Chunk];
        for (var i = 0; i < Chunk; i++)
        {
            frame.CopyTo(chunk, i * frame.Length);
        }

        var window = new SemaphoreSlim(Window / Chunk);
        var received = 0L;
        var cpu = ServerCpu.Start(pid);
        var clock = Stopwatch.StartNew();
        var reader = Task.Run(async () =>
        {
            // Server frames: FIN + opcode byte, then a 7-bit length (no mask). Frames may straddle reads.
            var pending = filled - (headEnd + 4);
            buffer.AsSpan(headEnd + 4, pending).CopyTo(buffer);
            var sinceRelease = 0;
            while (true)
            {
                var offset = 0;
                while (pending - offset >= 2 && pending - offset >= 2 + (buffer[offset + 1] & 0x7F))
                {
                    if ((buffer[offset] & 0x0F) == 0x2)
                    {
                        Interlocked.Increment(ref received);
                        if (++sinceRelease == Chunk)
                        {
                            sinceRelease = 0;
                            window.Release();
                        }
                    }

                    offset += 2 + (buffer[offset + 1] & 0x7F);
                }

                buffer.AsSpan(offset, pending - offset).CopyTo(buffer);
                pending -= offset;
                var read = await socket.ReceiveAsync(buffer.AsMemory(pending)).AsTask().WaitAsync(Deadline);
                if (read == 0)
                {
                    throw new InvalidOperationException("The server closed the connection.");
                }

                pending += read;
            }
        });
        while (clock.Elapsed < duration)
        {
            await window.WaitAsync();
            await socket.SendAsync(chunk);
        }

        // Every chunk in flight is back when the window is whole again; then the reader's wait is cut off.
        for (var i = 0; i < Window / Chunk; i++)
        {
            await window.WaitAsync(Deadline);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        socket.Dispose();
        await reader.ContinueWith(_ => { }, TaskScheduler.Default);
        Emit(new JsonObject
        {
            ["scenario"] = "rawecho32",
            ["messagesPerSecond"] = Math.Round(received / seconds),
            ["serverCpuUsPerMessage"] = cpu.MicrosecondsPer(received),
        });
        return 0;
    }

    /// <summary>
    /// One sender, <paramref name="receivers"/> readers, broadcast mode. With <paramref name="oneSlow"/>, the
    /// run alternates three phases without and three with one more receiver that never reads (a new one each
    /// time), and reports the stalled phases' rate with the share of the plain rate they kept, pair by pair:
    /// single runs on a shared 2-core machine vary by more than the effect measured.
    /// </summary>
    public static async Task<int> FanOutAsync(Uri url, int receivers, TimeSpan duration, int pid, bool oneSlow)
    {
        var readers = new List<ClientWebSocket>();
        for (var i = 0; i < receivers; i++)
        {
            readers.Add(await ConnectAsync(url));
        }

        using var sender = await ConnectAsync(url);
        await Task.Delay(200);
        var counts = new long[receivers];
        var stop = new CancellationTokenSource();
        var tasks = readers.Select((socket, index) => Task.Run(async () =>
        {
            var buffer = new byte[256];
            try
            {
                while (true)
                {
                    await ReceiveWholeAsync(socket, buffer, stop.Token);
                    Interlocked.Increment(ref counts[index]);
                }
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
            }
        })).ToList();

        var payload = new byte[32];
        var sent = 0L;
        var cpu = ServerCpu.Start(pid);
        var totalDelivered = 0L;

        // Paced by the slowest healthy reader: at most 64 messages ahead of it, so a server that keeps up loses nothing.
        async Task<double> PhaseAsync(TimeSpan length)
        {
            var before = counts.Sum();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < length)
            {
                while (sent - counts.Min() >= 64 && clock.Elapsed < length + TimeSpan.FromSeconds(5))
                {
                    await Task.Yield();
                }

                await sender.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
                sent++;
            }

            var settle = Stopwatch.StartNew();
            while (counts.Min() < sent && settle.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(10);
            }

            var delivered = counts.Sum() - before;
            totalDelivered += delivered;
            return delivered / clock.Elapsed.TotalSeconds;
        }

        var result = new JsonObject { ["scenario"] = oneSlow ? $"slow{receivers}" : $"fanout{receivers}" };
        if (!oneSlow)
        {
            result["deliveriesPerSecond"] = Math.Round(await PhaseAsync(duration));
        }
        else
        {
            var plain = new List<double>();
            var stalled = new List<double>();
            for (var round = 0; round < 3; round++)
            {
                plain.Add(await PhaseAsync(duration / 3));
                using var neverReads = await ConnectAsync(url);
                stalled.Add(await PhaseAsync(duration / 3));
                neverReads.Abort();
            }

            result["deliveriesPerSecond"] = Math.Round(Statistics.Median(stalled));
            result["plainDeliveriesPerSecond"] = Math.Round(Statistics.Median(plain));
            result["rateKept"] = Math.Round(Statistics.Median(plain.Zip(stalled, (p, s) => s / p)), 3);
        }

        result["lost"] = sent * receivers - counts.Sum();
        result["serverCpuUsPerDelivery"] = cpu.MicrosecondsPer(totalDelivered);
        result["serverRssMiB"] = Math.Round(ServerCpu.RssKiB(pid) / 1024.0, 1);
        await stop.CancelAsync();
        foreach (var socket in readers)
        {
            socket.Abort();
        }

        await Task.WhenAll(tasks).WaitAsync(Deadline);
        Emit(result);
        return 0;
    }

    public static async Task<int> StormAsync(Uri url, int count, int pid, TimeSpan hold)
    {
        // Warm the server first (code paged in and compiled, pools and thread pool grown), so that the RSS
        // growth below is what connections cost, not what any server's first few hundred cost once. Three
        // rounds with pauses: a tiered JIT (.NET's, V8's) recompiles hot code only after calls that follow a
        // quiet moment, and with one round that recompilation (megabytes) landed in the figure.
        for (var round = 0; round < 3; round++)
        {
            foreach (var socket in await OpenManyAsync(url, 500))
            {
                socket.Abort();
                socket.Dispose();
            }

            await Task.Delay(1000);
        }

        var rssBefore = ServerCpu.RssKiB(pid);
        var clock = Stopwatch.StartNew();
        var sockets = await OpenManyAsync(url, count);
        var seconds = clock.Elapsed.TotalSeconds;
        await Task.Delay(1000);
        var rssAfter = ServerCpu.RssKiB(pid);
        Emit(new JsonObject
        {
            ["scenario"] = "storm",
            ["handshakesPerSecond"] = Math.Round(count / seconds),
            ["serverKiBPerConnection"] = Math.Round((rssAfter - rssBefore) / (double)count, 2),
        });
        await Task.Delay(hold);
        foreach (var socket in sockets)
        {
            socket.Abort();
            socket.Dispose();
        }

        return 0;
    }

    public static async Task<int> ManyAsync(Uri url, int count)
    {
        var sockets = await OpenManyAsync(url, count);
        var received = 0;
        var receiving = sockets.Select(socket => Task.Run(async () =>
        {
            await ReceiveWholeAsync(socket, new byte[64]);
            Interlocked.Increment(ref received);
        })).ToList();
        using var sender = await ConnectAsync(url);
        var clock = Stopwatch.StartNew();
        await sender.SendAsync(new byte[32], WebSocketMessageType.Binary, true, CancellationToken.None);
        await Task.WhenAll(receiving).WaitAsync(Deadline).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Emit(new JsonObject
        {
            ["scenario"] = "many",
            ["connections"] = count,
            ["received"] = received,
            ["broadcastMs"] = Math.Round(clock.Elapsed.TotalMilliseconds, 1),
        });
        foreach (var socket in sockets)
        {
            socket.Abort();
        }

        return received == count ? 0 : 1;
    }

    /// <summary>The same pipelined 32 B echo as <see cref="EchoAsync"/>, through LocalWebSocketClient.</summary>
    public static async Task<int> OurClientEchoAsync(Uri url, TimeSpan duration)
    {
        await using var client = new LocalWebSocket.Client.LocalWebSocketClient(new LocalWebSocket.Client.LocalWebSocketClientOptions
        {
            KeepAliveInterval = TimeSpan.Zero,
            ReconnectPolicy = LocalWebSocket.Client.ReconnectPolicy.None,
        });
        const int InFlight = 256;
        var window = new SemaphoreSlim(InFlight);
        var received = 0L;
        client.MessageReceived += (_, _) =>
        {
            Interlocked.Increment(ref received);
            window.Release();
        };
        await client.ConnectAsync(url);
        var payload = new byte[32];
        ValueTask SendOne() => client.SendAsync(payload.AsMemory());
        await PipelineAsync(window, InFlight, WarmUp, SendOne);

        // Measured as the raw client's run is: after the same warm-up, to every message in flight back.
        Interlocked.Exchange(ref received, 0);
        var ownCpu = OwnCpu.Start();
        var clock = Stopwatch.StartNew();
        await PipelineAsync(window, InFlight, duration, SendOne);
        var seconds = clock.Elapsed.TotalSeconds;

        Emit(new JsonObject
        {
            ["scenario"] = "client-lws",
            ["messagesPerSecond"] = Math.Round(Interlocked.Read(ref received) / seconds),
            ["clientCpuUsPerMessage"] = ownCpu.MicrosecondsPer(Interlocked.Read(ref received)),
        });
        return 0;
    }

    /// <summary>Opens <paramref name="count"/> connections, 100 at a time.</summary>
    private static async Task<ClientWebSocket[]> OpenManyAsync(Uri url, int count)
    {
        var sockets = new ClientWebSocket[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                sockets[i] = await ConnectAsync(url);
            }
        })).WaitAsync(Deadline);
        return sockets;
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri url)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(url, timeout.Token);
        return socket;
    }

    private static async Task ReceiveWholeAsync(WebSocket socket, byte[] buffer, CancellationToken cancellationToken = default)
    {
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException("closed");
            }
        }
        while (!result.EndOfMessage);
    }

    private static void Emit(JsonObject result) => Console.WriteLine(result.ToJsonString());
}

internal static class Statistics
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>This load generator's own CPU time: what a client costs per message.</summary>
internal sealed class OwnCpu
{
    private readonly TimeSpan _start = Process.GetCurrentProcess().TotalProcessorTime;

    public static OwnCpu Start() => new();

    public double MicrosecondsPer(long count) =>
        count == 0 ? 0 : Math.Round((Process.GetCurrentProcess().TotalProcessorTime - _start).TotalMicroseconds / count, 2);
}

/// <summary>The server process's CPU time and memory, from /proc (0 when no pid is given).</summary>
internal sealed class ServerCpu
{
    private readonly int _pid;
    private readonly double _startMs;

    private ServerCpu(int pid)
    {
        _pid = pid;
        _startMs = CpuMs(pid);
    }

    public static ServerCpu Start(int pid) => new(pid);

    public double MicrosecondsPer(long count) =>
        _pid == 0 || count == 0 ? 0 : Math.Round((CpuMs(_pid) - _startMs) * 1000.0 / count, 2);

    public static long RssKiB(int pid)
    {
        if (pid == 0)
        {
            return 0;
        }

        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    private static double CpuMs(int pid)
    {
        if (pid == 0)
        {
            return 0;
        }

        // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command name.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks * 1000.0 / 100;
    }
}

/// <summary>Turns the runner's result lines ({"server":..., result fields}) into one Markdown table.</summary>
internal static class Report
{
    private static readonly (string Scenario, string Field, string Label, bool LowerIsBetter)[] Figures =
    [
        ("rtt", "p50us", "Round trip p50 (µs)", true),
        ("rtt", "p99us", "Round trip p99 (µs)", true),
        ("echo32", "messagesPerSecond", "Pipelined echo 32 B (msg/s)", false),
        ("echo32", "serverCpuUsPerMessage", "  server CPU per 32 B message (µs)", true),
        ("echo32", "clientCpuUsPerMessage", "  load generator's CPU per 32 B message (µs)", true),
        ("rawecho32", "messagesPerSecond", "Pipelined echo 32 B, raw-socket client (msg/s)", false),
        ("rawecho32", "serverCpuUsPerMessage", "  server CPU per 32 B message (µs)", true),
        ("echo65536", "megabytesPerSecond", "Pipelined echo 64 KiB (MB/s)", false),
        ("fanout100", "deliveriesPerSecond", "Fan-out 1→100 (deliveries/s)", false),
        ("fanout100", "lost", "  lost", true),
        ("fanout1000", "deliveriesPerSecond", "Fan-out 1→1000 (deliveries/s)", false),
        ("fanout1000", "serverCpuUsPerDelivery", "  server CPU per delivery (µs)", true),
        ("slow100", "deliveriesPerSecond", "Fan-out 1→100 with a stalled reader (deliveries/s)", false),
        ("slow100", "rateKept", "  share of the plain rate kept (paired phases)", false),
        ("slow100", "lost", "  lost by the readers that read", true),
        ("slow100", "serverRssMiB", "  server RSS (MiB)", true),
        ("storm", "handshakesPerSecond", "Connect storm 5,000 (handshakes/s)", false),
        ("storm", "serverKiBPerConnection", "  server KiB per idle connection", true),
        ("many", "received", "10,000 connections: broadcast received by", false),
        ("many", "broadcastMs", "  time to deliver (ms)", true),
    ];

    /// <summary>
    /// Our client against a raw ClientWebSocket loop, from runs that alternate (raw, ours, raw, ...): medians,
    /// and the median of each pair's ratio, since single runs on a shared 2-core machine vary by tens of percent.
    /// </summary>
    private static void PrintClientFigure(List<JsonObject> results)
    {
        List<JsonObject> Runs(string scenario) => results.Where(r => (string)r["scenario"]! == scenario).ToList();
        var raw = Runs("client-raw");
        var ours = Runs("client-lws");
        var pairs = Math.Min(raw.Count, ours.Count);
        if (pairs == 0)
        {
            return;
        }

        double Field(JsonObject run, string field) => run[field]?.GetValue<double>() ?? 0;
        string Row(string label, string field, string format) =>
            $"| {label} | {Statistics.Median(raw.Select(r => Field(r, field))).ToString(format, CultureInfo.InvariantCulture)} | "
            + $"{Statistics.Median(ours.Select(r => Field(r, field))).ToString(format, CultureInfo.InvariantCulture)} | "
            + $"{Statistics.Median(Enumerable.Range(0, pairs).Select(i => Field(ours[i], field) / Math.Max(Field(raw[i], field), 1e-9))).ToString("0.00", CultureInfo.InvariantCulture)}× |";
        Console.WriteLine();
        Console.WriteLine($"| Client, pipelined 32 B echo against Kestrel (median of {pairs} alternating runs) | raw ClientWebSocket | LocalWebSocketClient | ours / raw (median of pairs) |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine(Row("messages/s", "messagesPerSecond", "#,0"));
        Console.WriteLine(Row("client CPU per message (µs)", "clientCpuUsPerMessage", "0.00"));
    }

    /// <summary>
    /// A server's figure over Kestrel's: with runs in rounds, the median of each round's ratio (runs of one round
    /// were close in time, so they share the machine's mood); otherwise the ratio of the two values.
    /// </summary>
    private static double? Ratio(List<JsonObject> runs, List<JsonObject> kestrelRuns, double? value, double? kestrelValue, Func<JsonObject, double> field)
    {
        var paired = runs.Where(r => r["round"] is not null)
            .Join(kestrelRuns.Where(r => r["round"] is not null), r => r["round"]!.GetValue<int>(), k => k["round"]!.GetValue<int>(), (r, k) => (r, k))
            .Where(pair => field(pair.k) != 0)
            .Select(pair => field(pair.r) / field(pair.k))
            .ToList();
        if (paired.Count > 0)
        {
            return Statistics.Median(paired);
        }

        return value is { } v && kestrelValue is { } k && k != 0 ? v / k : null;
    }

    public static int Print(string path)
    {
        var results = File.ReadLines(path).Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var servers = results.Select(r => (string)r["server"]!).Distinct().ToList();
        Console.WriteLine($"| Figure | {string.Join(" | ", servers)} | {string.Join(" | ", servers.Where(s => s != "kestrel").Select(s => s + " / kestrel"))} |");
        Console.WriteLine($"|---|{string.Concat(servers.Select(_ => "---:|"))}{string.Concat(servers.Where(s => s != "kestrel").Select(_ => "---:|"))}");
        foreach (var (scenario, field, label, _) in Figures)
        {
            var runs = servers.Select(server => results
                .Where(r => (string)r["server"]! == server && (string)r["scenario"]! == scenario && r[field] is not null)
                .ToList()).ToList();
            if (runs.All(r => r.Count == 0))
            {
                continue;
            }

            double Value(JsonObject run) => run[field]!.GetValue<double>();
            var values = runs.Select(r => r.Count == 0 ? (double?)null : Statistics.Median(r.Select(Value))).ToList();
            var kestrel = servers.IndexOf("kestrel");
            var ratios = servers.Select((server, i) => (server, i))
                .Where(x => x.server != "kestrel")
                .Select(x => Ratio(runs[x.i], runs[kestrel], values[x.i], values[kestrel], Value) is { } ratio
                    ? ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×"
                    : "–");
            var rounds = runs.Max(r => r.Count);
            var shownLabel = rounds > 1 ? $"{label}, median of {rounds} rounds" : label;
            Console.WriteLine($"| {shownLabel} | {string.Join(" | ", values.Select(v => v?.ToString("#,0.##", CultureInfo.InvariantCulture) ?? "–"))} | {string.Join(" | ", ratios)} |");
        }

        PrintClientFigure(results);
        return 0;
    }
}
