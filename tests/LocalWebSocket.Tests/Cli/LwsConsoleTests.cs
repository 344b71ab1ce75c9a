using System.Text;
using LocalWebSocket.Cli;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Cli;

/// <summary>lws and its console: nothing it prints may wait for the input, and nothing it serves may wait for the output.</summary>
public sealed class LwsConsoleTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_prints_what_arrives_at_once_while_standard_input_stays_open(bool json)
    {
        await using var server = await TestServers.StartAsync(o => o.Routing = RoutingMode.Broadcast);
        var received = new Probe<string>();
        server.MessageReceived += (_, e) => received.Add(e.Message.Text);
        string[] args = [PeerProcess.LwsDll, "connect", server.WebSocketUrl.ToString(), .. json ? new[] { "--json" } : []];
        await using var lws = PeerProcess.StartRaw("dotnet", redirectInput: true, args);
        await lws.WaitForLineContainingAsync(json ? """{"event":"state","state":"connected"}""" : "connected to ws://");

        // One line typed, then standard input stays open with nothing more: lws is waiting for the next line.
        await lws.StandardInput.WriteLineAsync("first line");
        await lws.StandardInput.FlushAsync();
        await received.WaitUntilAsync(texts => texts.Contains("first line"));
        await using var other = new LocalWebSocketClient();
        await other.ConnectAsync(server.WebSocketUrl).Within();
        await other.SendAsync("from another client");

        var expected = json ? """{"event":"message","type":"text","text":"from another client"}""" : "<       text \"from another client\"";
        await lws.Lines.WaitUntilAsync(lines => lines.Any(l => l.Contains(expected, StringComparison.Ordinal))).WaitAsync(TimeSpan.FromSeconds(1));
        lws.StandardInput.Close();
        Assert.Equal(0, await lws.WaitForExitAsync());
    }

    [Fact]
    public async Task Serve_keeps_serving_while_nothing_reads_its_console_and_says_what_it_could_not_show()
    {
        var console = new StuckAfterStartWriter();
        using var stop = new CancellationTokenSource();
        var serving = Lws.RunAsync(["serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--echo"], console, console, TextReader.Null, stop.Token);
        var port = await console.Port.Task.Within();

        // Every join, message and leave is a line nobody takes; clients are served all the same, and past the
        // lines the tool keeps waiting, the rest are dropped and counted.
        const int Messages = OutputLines.Capacity + 500;
        await using (var client = new LocalWebSocketClient())
        {
            var echoes = 0;
            var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            client.MessageReceived += (_, _) =>
            {
                if (Interlocked.Increment(ref echoes) == Messages)
                {
                    all.TrySetResult();
                }
            };
            await client.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
            for (var i = 0; i < Messages; i++)
            {
                await client.SendAsync($"message {i}");
            }

            await all.Task.Within();
        }

        for (var i = 0; i < 5; i++)
        {
            await using var another = new LocalWebSocketClient();
            await another.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();
        }

        Assert.False(serving.IsCompleted);
        console.Release();
        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());
        var text = console.Text;
        Assert.Matches(@"\[\d+ lines not shown: the output did not keep up\]", text);
        Assert.Contains("stopped: 6 clients joined", text, StringComparison.Ordinal);
    }

    /// <summary>A console that shows lws's start-up lines, then blocks every write (a paused terminal) until released.</summary>
    private sealed class StuckAfterStartWriter : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _line = new();
        private readonly ManualResetEventSlim _released = new();
        private bool _started;

        public TaskCompletionSource<int> Port { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }

        public void Release() => _released.Set();

        public override void Write(char value)
        {
            if (Volatile.Read(ref _started))
            {
                _released.Wait();
            }

            lock (_text)
            {
                _text.Append(value);
                _line.Append(value);
                if (value == '\n')
                {
                    var last = _line.ToString();
                    _line.Clear();
                    if (last.Contains("listening on 127.0.0.1:", StringComparison.Ordinal))
                    {
                        Port.TrySetResult(int.Parse(last[(last.LastIndexOf(':') + 1)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
                    }

                    if (last.Contains("press Ctrl+C to stop", StringComparison.Ordinal))
                    {
                        Volatile.Write(ref _started, true);
                    }
                }
            }
        }
    }
}
