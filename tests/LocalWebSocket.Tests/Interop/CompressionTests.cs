using System.Net.WebSockets;
using System.Text.Json;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>
/// permessage-deflate (RFC 7692) against three independent implementations: python3-autobahn playing the
/// Autobahn|Testsuite's groups 12/13 (every offer and acceptance variant, 1,000 messages in a row, auto-
/// fragmented messages), Python websockets and Node ws (0 B to 16 MiB, text and binary, 1,000 pipelined
/// messages), each as client against our server and as server against our client.
/// </summary>
public sealed class CompressionTests
{
    private static Task<LocalWebSocketServer> StartDeflateServerAsync() => TestServers.StartAsync(o =>
    {
        o.Routing = RoutingMode.Echo;
        o.DangerousDeflateOptions = new WebSocketDeflateOptions();
    });

    private static LocalWebSocketClient DeflateClient() => new(new LocalWebSocketClientOptions
    {
        DangerousDeflateOptions = new WebSocketDeflateOptions(),
        ReconnectPolicy = ReconnectPolicy.None,
    });

    [Fact]
    public async Task Autobahn_compression_cases_pass_against_our_server_and_it_compresses_unless_asked_for_an_8_bit_window()
    {
        await using var server = await StartDeflateServerAsync();

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "deflate_cases.py", "client", server.WebSocketUrl.ToString());

        var results = CaseResults(output);
        Assert.True(exitCode == 0, output + errors);
        Assert.Equal(21, results.Count);
        Assert.All(results, r => Assert.True(r.Outcome == "OK", $"{r.Case}: {r.Outcome}"));
        AssertCompressedUnlessEightBit(results, "server");

        // The no-context-takeover groups got what they asked for.
        Assert.Contains("server_no_context_takeover=True", results.Single(r => r.Case == "13.2.1").Extension, StringComparison.Ordinal);
        Assert.Contains("server_no_context_takeover=False", results.Single(r => r.Case == "13.1.1").Extension, StringComparison.Ordinal);
    }

    /// <summary>
    /// The short form (21 cases) in the test command; with <c>LWS_CONFORMANCE_FULL=1</c>
    /// (<c>tests/conformance/full.sh</c>) the suite's whole matrix of 126 cases, up to 1,000 messages of 128 KiB
    /// each, which takes minutes rather than seconds.
    /// </summary>
    [Fact]
    public async Task Our_client_passes_the_autobahn_compression_cases_as_the_echoing_side()
    {
        var full = Environment.GetEnvironmentVariable("LWS_CONFORMANCE_FULL") == "1";
        await using var peer = full
            ? PeerProcess.Start(PeerProcess.Python, "deflate_cases.py", "server", "--full")
            : PeerProcess.Start(PeerProcess.Python, "deflate_cases.py", "server");
        var port = (await peer.WaitForLineAsync("listening ")).Split(' ')[1];
        var cases = (await peer.WaitForLineAsync("cases ")).Split(' ')[1..];
        Assert.Equal(full ? 126 : 21, cases.Length);
        // A full case is 1,000 round trips of up to 128 KiB in 256-byte frames: seconds, not milliseconds.
        var caseTimeout = full ? TimeSpan.FromMinutes(2) : TestServers.Timeout;

        var results = new List<CaseResult>();
        foreach (var id in cases)
        {
            await using var client = DeflateClient();
            var ended = new TaskCompletionSource();
            client.StateChanged += (_, e) =>
            {
                if (e.State == ConnectionState.Disconnected)
                {
                    ended.TrySetResult();
                }
            };
            // Echoed in the order received, by one loop: the event only hands each message over.
            var inbox = System.Threading.Channels.Channel.CreateUnbounded<WebSocketMessage>();
            client.MessageReceived += (_, m) => inbox.Writer.TryWrite(m);
            var echo = Task.Run(async () =>
            {
                await foreach (var message in inbox.Reader.ReadAllAsync())
                {
                    await client.SendAsync(message);
                }
            });
            await client.ConnectAsync($"ws://127.0.0.1:{port}/{id}").Within();
            var line = await peer.WaitForLineContainingAsync($"\"case\": \"{id}\"", caseTimeout);
            var result = CaseResults(line).Single();
            Assert.True(result.Outcome == "OK", $"{id}: {result.Outcome}");
            results.Add(result);
            await ended.Task.Within();
            inbox.Writer.Complete();
            await echo.Within();
            Assert.NotNull(client.Extensions);
        }

        AssertCompressedUnlessEightBit(results, "client");
    }

    /// <summary>
    /// Groups 13.3, 13.5 and 13.7 (whose first variant we take) ask for an 8-bit window for our side: granted
    /// by sending uncompressed, since zlib cannot compress with one. Every other group is compressed: by a
    /// quarter or less with context takeover, by a third or more without it.
    /// </summary>
    private static void AssertCompressedUnlessEightBit(List<CaseResult> results, string ourSide)
    {
        var eightBitParameter = $"{ourSide}_max_window_bits=8";
        var noContextParameter = $"{ourSide}_no_context_takeover=True";
        foreach (var result in results)
        {
            var eightBit = result.Extension!.Contains(eightBitParameter, StringComparison.Ordinal);
            var group = result.Case[..4];
            Assert.True(eightBit == group is "13.3" or "13.5" or "13.7", $"{result.Case}: {result.Extension}");
            if (eightBit)
            {
                Assert.Equal(result.AppIn, result.WireIn);
            }
            else if (result.AppIn >= 100_000)
            {
                // Without context takeover each message is compressed alone: a 256-byte message shrinks about
                // half, where with the window kept across messages the repeated payload shrinks far more.
                var ratio = result.Extension.Contains(noContextParameter, StringComparison.Ordinal) ? 1.5 : 4;
                Assert.True(result.WireIn * ratio < result.AppIn, $"{result.Case}: {result.WireIn} octets on the wire for {result.AppIn}");
            }
        }
    }

    [Fact]
    public async Task Python_websockets_and_node_ws_clients_exchange_0_B_to_16_MiB_and_1000_in_a_row_compressed_with_our_server()
    {
        await using var server = await StartDeflateServerAsync();

        var python = await PeerProcess.RunAsync(PeerProcess.Python, "py_deflate.py", "client", server.WebSocketUrl.ToString());
        var node = await PeerProcess.RunAsync("node", "node_deflate.js", "client", server.WebSocketUrl.ToString());

        Assert.True(python.ExitCode == 0, python.Output + python.Errors);
        Assert.Contains("4 variants, 0 failed", python.Output, StringComparison.Ordinal);
        Assert.Contains("OK no-context-takeover extensions=permessage-deflate; server_no_context_takeover; client_no_context_takeover", python.Output, StringComparison.Ordinal);
        Assert.Contains("OK server-window-8 extensions=permessage-deflate; server_max_window_bits=8", python.Output, StringComparison.Ordinal);
        Assert.True(node.ExitCode == 0, node.Output + node.Errors);
        Assert.Contains("3 variants, 0 failed", node.Output, StringComparison.Ordinal);
        Assert.Contains("OK windows-9 extensions=permessage-deflate; server_max_window_bits=9", node.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(PeerProcess.Python, "py_deflate.py", 4)]
    [InlineData("node", "node_deflate.js", 3)]
    public async Task Our_client_exchanges_0_B_to_16_MiB_and_1000_in_a_row_compressed_with_independent_servers(string program, string script, int variants)
    {
        await using var peer = PeerProcess.Start(program, script, "server", "60");
        await peer.Lines.WaitUntilAsync(lines => lines.Count(l => l.StartsWith("listening ", StringComparison.Ordinal)) == variants);

        foreach (var line in peer.LinesStartingWith("listening "))
        {
            var (name, port) = (line.Split(' ')[1], line.Split(' ')[2]);
            await using var client = DeflateClient();
            var received = new Probe<WebSocketMessage>();
            client.MessageReceived += (_, m) => received.Add(m);
            await client.ConnectAsync($"ws://127.0.0.1:{port}/").Within();
            Assert.True(client.Extensions?.StartsWith("permessage-deflate", StringComparison.Ordinal), $"{name}: {client.Extensions}");

            var sent = CompressibleMessages().ToList();
            foreach (var message in sent)
            {
                await client.SendAsync(message);
            }

            var echoed = await received.WaitForCountAsync(sent.Count).WaitAsync(TimeSpan.FromSeconds(60));
            for (var i = 0; i < sent.Count; i++)
            {
                Assert.Equal(sent[i].Type, echoed[i].Type);
                Assert.True(sent[i].Data.Span.SequenceEqual(echoed[i].Data.Span), $"{name}: message {i} ({sent[i].Data.Length} B) differs");
            }
        }
    }

    [Fact]
    public async Task Our_client_and_server_agree_on_every_parameter_combination()
    {
        var combinations = new[]
        {
            (new WebSocketDeflateOptions(), new WebSocketDeflateOptions()),
            (new WebSocketDeflateOptions { ServerContextTakeover = false, ClientContextTakeover = false }, new WebSocketDeflateOptions()),
            (new WebSocketDeflateOptions(), new WebSocketDeflateOptions { ServerMaxWindowBits = 10, ClientMaxWindowBits = 9, ServerContextTakeover = false }),
            (new WebSocketDeflateOptions { ServerMaxWindowBits = 12, ClientMaxWindowBits = 11 }, new WebSocketDeflateOptions { ClientContextTakeover = false }),
        };
        foreach (var (serverLimits, clientOffer) in combinations)
        {
            await using var server = await TestServers.StartAsync(o =>
            {
                o.Routing = RoutingMode.Echo;
                o.DangerousDeflateOptions = serverLimits;
            });
            await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { DangerousDeflateOptions = clientOffer, ReconnectPolicy = ReconnectPolicy.None });
            var received = new Probe<WebSocketMessage>();
            client.MessageReceived += (_, m) => received.Add(m);
            await client.ConnectAsync(server.WebSocketUrl).Within();

            var sent = CompressibleMessages().ToList();
            foreach (var message in sent)
            {
                await client.SendAsync(message);
            }

            var echoed = await received.WaitForCountAsync(sent.Count).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.All(Enumerable.Range(0, sent.Count), i => Assert.True(sent[i].Data.Span.SequenceEqual(echoed[i].Data.Span), $"{client.Extensions}: message {i}"));
            Assert.StartsWith("permessage-deflate", client.Extensions, StringComparison.Ordinal);
            if (!serverLimits.ServerContextTakeover || !clientOffer.ServerContextTakeover)
            {
                Assert.Contains("server_no_context_takeover", client.Extensions, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>0 B to 16 MiB, text and binary, then 1,000 small ones, all compressible.</summary>
    private static IEnumerable<WebSocketMessage> CompressibleMessages()
    {
        var line = "LocalWebSocket compresses this line of text well. "u8.ToArray();
        foreach (var (size, binary) in new[] { (0, false), (0, true), (1, true), (65536, false), (1 << 20, true), (16 << 20, true) })
        {
            var data = new byte[size];
            for (var i = 0; i < size; i++)
            {
                data[i] = line[i % line.Length];
            }

            yield return binary ? WebSocketMessage.FromBytes(data) : WebSocketMessage.FromText(System.Text.Encoding.UTF8.GetString(data));
        }

        for (var i = 0; i < 1000; i++)
        {
            yield return WebSocketMessage.FromText($"message {i:D4} " + new string('x', i % 200));
        }
    }

    private sealed record CaseResult(string Case, string Outcome, string? Extension, long WireIn, long AppIn);

    private static List<CaseResult> CaseResults(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("{\"case\"", StringComparison.Ordinal))
            .Select(line =>
            {
                var json = JsonDocument.Parse(line).RootElement;
                long Number(string name) => json.TryGetProperty(name, out var value) ? value.GetInt64() : -1;
                return new CaseResult(
                    json.GetProperty("case").GetString()!,
                    json.GetProperty("outcome").GetString()!,
                    json.TryGetProperty("extension", out var extension) ? extension.GetString() : null,
                    Number("wireIn"),
                    Number("appIn"));
            })];
}
