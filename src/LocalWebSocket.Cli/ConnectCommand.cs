using System.Text.Json;
using LocalWebSocket.Client;

namespace LocalWebSocket.Cli;

/// <summary>
/// <c>lws connect</c>: a client that sends each line of input and prints what happens, for people
/// (a transcript) or for scripts (<c>--json</c>: one JSON object per event and line).
/// </summary>
internal static class ConnectCommand
{
    public static readonly CommandSpec Spec = new(
        "connect",
        "URL",
        "Connects to ws://host:port/ws, sends each line you type, and prints what arrives.",
        """
        Messages and state changes are printed the moment they happen, whatever the input is doing. The
        client reconnects by itself when the connection is lost. It ends at the end of input (Ctrl+D),
        on Ctrl+C, or when the server refuses it or the reconnect policy gives up.
        """,
        [
            new("--detail", "KEY=VALUE", "A detail sent as a query parameter, e.g. --detail username=ann (repeatable)."),
            new("--reconnect", "POLICY", "jitter (default: 1 s to 30 s with full jitter), exponential, linear, constant,\ninfinite, or none."),
            new("--json", null, "Print one JSON object per event and line, for scripts: {\"event\":\"state\",...},\n{\"event\":\"message\",\"type\":\"text\",\"text\":\"hi\"} (binary as base64), {\"event\":\"error\",...}."),
            new("--pin", "SHA256", "For wss:// with a self-signed certificate: the fingerprint the server printed."),
            new("--keep-alive", "SECONDS", "Ping the server every SECONDS (default 30; 0 turns pings off)."),
            new("--keep-alive-timeout", "SECONDS", "Drop the connection (and reconnect) when a pong has not come SECONDS after a ping\n(default 30)."),
        ]);

    public static async Task<int> RunAsync(CommandLine line, CliContext context)
    {
        if (line.Positional.Count != 1)
        {
            throw line.Error("takes one URL, e.g. lws connect ws://127.0.0.1:8080/ws");
        }

        if (!Uri.TryCreate(line.Positional[0], UriKind.Absolute, out var url) || url.Scheme is not ("ws" or "wss"))
        {
            throw line.Error($"'{line.Positional[0]}' is not a ws:// or wss:// URL");
        }

        var options = new LocalWebSocketClientOptions { ReconnectPolicy = ParsePolicy(line.Last("--reconnect") ?? "jitter") };
        try
        {
            options.PinnedCertificateFingerprint = line.Last("--pin");
        }
        catch (ArgumentException)
        {
            throw line.Error("--pin takes a SHA-256 fingerprint: 64 hex digits, colons allowed");
        }

        foreach (var (key, value) in line.Pairs("--detail"))
        {
            options.Details[key] = value;
        }

        options.KeepAliveInterval = line.Seconds("--keep-alive", options.KeepAliveInterval, 86_400, zeroAllowed: true);
        options.KeepAliveTimeout = line.Seconds("--keep-alive-timeout", options.KeepAliveTimeout, 86_400, zeroAllowed: false);

        await using IConnectOutput printer = line.Has("--json") ? new JsonOutput(context.Output) : new TranscriptOutput(context.Output, context.Color);
        await using var client = new LocalWebSocketClient(options);
        var ended = new TaskCompletionSource<ConnectionStateChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageReceived += (_, message) => printer.Message(message);
        client.StateChanged += (_, change) =>
        {
            printer.State(change);
            if (change.State == ConnectionState.Disconnected && change.PreviousState != ConnectionState.Connecting)
            {
                ended.TrySetResult(change);
            }
        };

        try
        {
            await client.ConnectAsync(url, context.Stop);
        }
        catch (LocalWebSocketException exception)
        {
            printer.Error(exception);
            return 1;
        }

        printer.Info($"connected to {CommandLine.UrlText(client.Url)}; type lines to send them, end input (Ctrl+D) to leave");
        var typing = SendTypedLinesAsync(client, TypedLines.Start(context.Input), printer, context.Stop);
        if (await Task.WhenAny(typing, ended.Task) == ended.Task)
        {
            return (await ended.Task).Error is null ? 0 : 1;
        }

        await client.DisconnectAsync(CancellationToken.None);
        await typing;
        return 0;
    }

    /// <summary>The reconnect policies by their command-line names.</summary>
    internal static IReconnectPolicy ParsePolicy(string name) => name switch
    {
        "exponential" => ReconnectPolicy.Exponential(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30)),
        "jitter" => ReconnectPolicy.FullJitter(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)),
        "linear" => ReconnectPolicy.Linear(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)),
        "constant" => ReconnectPolicy.Constant(TimeSpan.FromSeconds(1)),
        "infinite" => ReconnectPolicy.Constant(TimeSpan.FromSeconds(5)),
        "none" => ReconnectPolicy.None,
        _ => throw new UsageException($"connect: --reconnect takes jitter, exponential, linear, constant, infinite or none, not '{name}'", "connect"),
    };

    /// <summary>Sends each line typed until the input ends; a failed send is reported and typing goes on.</summary>
    private static async Task SendTypedLinesAsync(LocalWebSocketClient client, System.Threading.Channels.ChannelReader<string> typed, IConnectOutput printer, CancellationToken stop)
    {
        try
        {
            await foreach (var text in typed.ReadAllAsync(stop))
            {
                try
                {
                    await client.SendAsync(text, stop);
                    printer.Sent(text);
                }
                catch (LocalWebSocketException exception)
                {
                    printer.Error(exception);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: leave as at end of input.
        }
    }

    private interface IConnectOutput : IAsyncDisposable
    {
        void State(ConnectionStateChangedEventArgs change);

        void Message(WebSocketMessage message);

        void Sent(string text);

        void Error(LocalWebSocketException error);

        void Info(string text);
    }

    private sealed class TranscriptOutput(TextWriter output, bool color) : IConnectOutput
    {
        private readonly Transcript _log = new(output, color);

        public void State(ConnectionStateChangedEventArgs change) => _log.Line("state", change.ToString());

        public void Message(WebSocketMessage message) => _log.Line("<", Transcript.Describe(message, int.MaxValue));

        public void Sent(string text) => _log.Line(">", $"text \"{text}\"");

        public void Error(LocalWebSocketException error) =>
            _log.Line("error", $"{error.Code}: {error.Message}{(error.StatusCode is { } status ? $" (HTTP {status})" : "")}");

        public void Info(string text) => _log.Line("client", text);

        public ValueTask DisposeAsync() => _log.DisposeAsync();
    }

    /// <summary>One JSON object per line: state, message and error events, for scripts.</summary>
    private sealed class JsonOutput(TextWriter output) : IConnectOutput
    {
        private readonly OutputLines _lines = new(output);

        public void State(ConnectionStateChangedEventArgs change) => Write(json =>
        {
            json.WriteString("event", "state");
            json.WriteString("state", change.State.ToString().ToLowerInvariant());
            if (change.CloseStatus is { } status)
            {
                json.WriteNumber("closeCode", (int)status);
                json.WriteString("closeReason", change.CloseDescription ?? "");
            }

            if (change.Error is { } error)
            {
                json.WriteString("code", error.Code.ToString());
                json.WriteString("message", error.Message);
            }
        });

        public void Message(WebSocketMessage message) => Write(json =>
        {
            json.WriteString("event", "message");
            if (message.IsText)
            {
                json.WriteString("type", "text");
                json.WriteString("text", message.Text);
            }
            else
            {
                json.WriteString("type", "binary");
                json.WriteBase64String("base64", message.Data.Span);
            }
        });

        public void Sent(string text)
        {
            // Scripts know what they sent; only what happens is reported.
        }

        public void Error(LocalWebSocketException error) => Write(json =>
        {
            json.WriteString("event", "error");
            json.WriteString("code", error.Code.ToString());
            json.WriteString("message", error.Message);
            if (error.StatusCode is { } status)
            {
                json.WriteNumber("statusCode", status);
            }
        });

        public void Info(string text)
        {
        }

        public ValueTask DisposeAsync() => _lines.DisposeAsync();

        private void Write(Action<Utf8JsonWriter> body)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                body(json);
                json.WriteEndObject();
            }

            _lines.Write(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        }
    }
}

/// <summary>
/// The lines typed on standard input, read by a thread of their own: a console read blocks its thread until a
/// line comes, and no thread that anything else waits for (the thread pool, the socket engine) may be the one.
/// </summary>
internal static class TypedLines
{
    public static System.Threading.Channels.ChannelReader<string> Start(TextReader input)
    {
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
        var reader = new Thread(() =>
        {
            try
            {
                while (input.ReadLine() is { } line)
                {
                    lines.Writer.TryWrite(line);
                }
            }
            catch (IOException)
            {
                // Standard input went away: as at its end.
            }
            finally
            {
                lines.Writer.TryComplete();
            }
        })
        {
            IsBackground = true,
            Name = "lws input",
        };
        reader.Start();
        return lines.Reader;
    }
}
