using System.Net.Sockets;
using System.Text;
using LocalWebSocket.Client;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>
/// Mutated request heads (bit flips, stray CR/LF/NUL/UTF-8 bytes, cut lines, repeated and huge headers): each
/// is parsed or refused with a 4xx (505 for a foreign HTTP version), never a crash or a hang; over sockets, a client connected meanwhile is
/// not disturbed. Seeded, so a failure names the case that reproduces it.
/// </summary>
public sealed class HandshakeFuzzTests
{
    private const int Seed = 6455;

    private static readonly string[] Seeds =
    [
        "GET /ws?name=Ana&room=%F0%9F%98%80 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: chat, v2\r\nOrigin: http://127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n",
    ];

    [Fact]
    public async Task A_hundred_thousand_mutated_heads_are_each_parsed_or_refused_with_a_status()
    {
        var random = new Random(Seed);
        int parsed = 0, refused = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var head = Mutate(random);
            await using var stream = ConnectionStream.ForServer(new MemoryStream(head), socket: null);
            try
            {
                var result = await HttpHeadReader.ReadAsync(stream, isRequest: true, maxHeadSize: 8192, maxHeaderCount: 64, CancellationToken.None);
                if (result is not null)
                {
                    // What the server does next with a parsed head must not throw either.
                    _ = QueryString.Parse(result.Query);
                    _ = DeflateNegotiation.Negotiate(result.HeaderValues("Sec-WebSocket-Extensions"), new System.Net.WebSockets.WebSocketDeflateOptions());
                    parsed++;
                }
            }
            catch (HttpParseException exception)
            {
                // 505 is the refusal of an HTTP version other than 1.x (RFC 9110 section 15.6.6).
                Assert.True(exception.StatusCode is (>= 400 and < 500) or 505, $"case {i}: status {exception.StatusCode}");
                refused++;
            }
            catch (Exception exception)
            {
                Assert.Fail($"case {i} (seed {Seed}) threw {exception.GetType().Name}: {exception.Message}\n{Encoding.Latin1.GetString(head)}");
            }
        }

        // Both outcomes are exercised: the mutations are neither all harmless nor all fatal.
        Assert.True(parsed > 1000 && refused > 10_000, $"{parsed} parsed, {refused} refused");
    }

    [Fact]
    public async Task Thousands_of_mutated_heads_over_sockets_leave_a_connected_client_undisturbed()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.Routing = RoutingMode.Echo;
            o.HandshakeTimeout = TimeSpan.FromSeconds(2);
        });
        await using var healthy = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var echoes = new Probe<string>();
        healthy.MessageReceived += (_, m) => echoes.Add(m.Text);
        await healthy.ConnectAsync(server.WebSocketUrl).Within();

        var random = new Random(Seed + 1);
        var heads = Enumerable.Range(0, 3000).Select(_ => Mutate(random)).ToList();
        var next = -1;
        var answered = 0;
        var workers = Enumerable.Range(0, 16).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < heads.Count)
            {
                await SendOneAsync(server.Port, heads[index]);
                Interlocked.Increment(ref answered);
                if (index % 100 == 0)
                {
                    // The healthy client round-trips all along.
                    await healthy.SendAsync($"ping {index}");
                }
            }
        }).ToList();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(heads.Count, answered);
        await echoes.WaitUntilAsync(items => items.Count == 30);
        await healthy.SendAsync("still here");
        await echoes.WaitUntilAsync(items => items.Count == 31 && items[^1] == "still here");
        await TestServers.UntilAsync(() => server.GetStatistics().OpenConnections == 1, "only the healthy connection is left");
    }

    [Fact]
    public void Fifty_thousand_odd_query_strings_decode_without_error_to_valid_text()
    {
        var random = new Random(Seed + 2);
        const string Alphabet = "%&=+ab\u00e9\u00ff?#;";
        string[] escapes = ["%C0%AF", "%FF", "%E2%82", "%ED%A0%80", "%F0%9F%98%80", "%", "%4", "%zz", "%00", "%2B", "%26", "%3D"];
        for (var i = 0; i < 50_000; i++)
        {
            var query = new StringBuilder();
            var parts = random.Next(1, 40);
            for (var p = 0; p < parts; p++)
            {
                query.Append(random.Next(3) == 0 ? escapes[random.Next(escapes.Length)] : Alphabet[random.Next(Alphabet.Length)].ToString());
            }

            var decoded = QueryString.Parse(query.ToString());

            // Keys and values are always valid UTF-16 text (invalid UTF-8 becomes U+FFFD), ready for JSON.
            foreach (var (key, value) in decoded)
            {
                Assert.True(IsValidText(key) && IsValidText(value), $"case {i}: {query}");
            }
        }
    }

    [Fact]
    public async Task Clients_with_huge_repeated_and_invalid_details_are_served_and_described_safely()
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Echo);
        var huge = new string('x', 6000);
        var query = $"name=a&name=b&bad=%FF%FE&cut=%E2%82&=empty&flag&huge={huge}";
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        await client.ConnectAsync(new Uri(server.WebSocketUrl + "?" + query)).Within();
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "the client joined");

        var details = server.Clients[0].Details;
        Assert.Equal("b", details["name"]);
        Assert.Equal("\uFFFD\uFFFD", details["bad"]);
        Assert.Equal("", details["flag"]);
        Assert.Equal(huge, details["huge"]);
        Assert.Equal("empty", details[""]);

        // A head over the limit is refused with 431, and the server goes on.
        await using var tooBig = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
        var refusal = await Assert.ThrowsAsync<LocalWebSocketException>(() => tooBig.ConnectAsync(new Uri(server.WebSocketUrl + "?huge=" + new string('y', 9000))));
        Assert.Equal(431, refusal.StatusCode);
        var echoed = new Probe<string>();
        client.MessageReceived += (_, m) => echoed.Add(m.Text);
        await client.SendAsync("fine");
        Assert.Equal(["fine"], await echoed.WaitForCountAsync(1));
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>No lone surrogate: the text encodes to UTF-8 (and so to JSON) as it is.</summary>
    private static bool IsValidText(string text)
    {
        try
        {
            _ = StrictUtf8.GetByteCount(text);
            return true;
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>Writes a head, ends the sending side, and reads whatever comes back until the server closes.</summary>
    private static async Task SendOneAsync(int port, byte[] head)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
        try
        {
            await socket.SendAsync(head);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            using var deadline = new CancellationTokenSource(TestServers.Timeout);
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
                // A 101 leaves a WebSocket open: the end of our sending side is its end too, so it closes.
            }
        }
        catch (SocketException)
        {
            // Reset by the server after a refusal: an answer too.
        }
    }

    private static byte[] Mutate(Random random)
    {
        var bytes = Encoding.ASCII.GetBytes(Seeds[random.Next(Seeds.Length)]).ToList();
        var operations = random.Next(1, 5);
        for (var o = 0; o < operations; o++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(9))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.Insert(at, (byte)"\r\n\0 :;,=\"\t\x7f\x80\xff"[random.Next(13)]);
                    break;
                case 2:
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 20), bytes.Count - at));
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    bytes.InsertRange(FindLineStart(bytes, at), Encoding.ASCII.GetBytes("X-Big: " + new string('a', random.Next(100, 10_000)) + "\r\n"));
                    break;
                case 5:
                    bytes.InsertRange(FindLineStart(bytes, at), Enumerable.Range(0, random.Next(10, 80)).SelectMany(i => Encoding.ASCII.GetBytes($"X-{i}: v\r\n")));
                    break;
                case 6:
                    bytes.InsertRange(FindLineStart(bytes, at), Encoding.UTF8.GetBytes("Sec-WebSocket-Key: ключ😀\r\n"));
                    break;
                case 7:
                    bytes.InsertRange(FindLineStart(bytes, at), Encoding.ASCII.GetBytes("Sec-WebSocket-Extensions: " +
                        string.Join(", ", Enumerable.Repeat("permessage-deflate; server_max_window_bits=" + random.Next(0, 20), random.Next(1, 50))) + "\r\n"));
                    break;
                default:
                    // Bare LF line ends.
                    for (var i = bytes.Count - 2; i >= 0; i--)
                    {
                        if (bytes[i] == '\r' && bytes[i + 1] == '\n' && random.Next(3) == 0)
                        {
                            bytes.RemoveAt(i);
                        }
                    }

                    break;
            }

            if (bytes.Count == 0)
            {
                bytes.Add((byte)'G');
            }
        }

        return [.. bytes];
    }

    private static int FindLineStart(List<byte> bytes, int at)
    {
        var first = bytes.IndexOf((byte)'\n');
        var lineStart = bytes.LastIndexOf((byte)'\n', Math.Max(at - 1, 0)) + 1;
        return Math.Max(lineStart, first + 1);
    }
}
