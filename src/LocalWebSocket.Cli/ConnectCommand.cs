using System.Text.Json;
using LocalWebSocket.Client;

namespace LocalWebSocket.Cli;

/// <summary>
/// <c>lws connect</c>: a client that sends each line of input and prints what happens, for people
/// (a transcript) or for scripts (<c>--json</c>: one JSON object per event and line).
/// </summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextReader input, CancellationToken stop)
    {
        var line = CommandLine.Parse(args, ["--detail", "--reconnect", "--pin"], ["--json"]);
        if (line.Positional.Count != 1)
        {
            throw new UsageException("connect takes one URL, e.g. lws connect ws://127.0.0.1:8080/ws");
        }

        if (!Uri.TryCreate(line.Positional[0], UriKind.Absolute, out var url) || url.Scheme is not ("ws" or "wss"))
        {
            throw new UsageException($"'{line.Positional[0]}' is not a ws:// or wss:// URL.");
        }

        var options = new LocalWebSocketClientOptions { ReconnectPolicy = ParsePolicy(line.Last("--reconnect") ?? "jitter") };
        try
        {
            options.PinnedCertificateFingerprint = line.Last("--pin");
        }
        catch (ArgumentException)
        {
            throw new UsageException("--pin takes a SHA-256 fingerprint: 64 hex digits, colons allowed.");
        }
        foreach (var (key, value) in line.Pairs("--detail"))
        {
            options.Details[key] = value;
        }

        IConnectOutput printer = line.Has("--json") ? new JsonOutput(output) : new TranscriptOutput(output);
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
            await client.ConnectAsync(url, stop);
        }
        catch (LocalWebSocketException exception)
        {
            printer.Error(exception);
            return 1;
        }

        printer.Info($"connected to {client.Url}; type lines to send them, end input (Ctrl+D) to leave");
        var typing = SendTypedLinesAsync(client, input, printer, stop);
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
        _ => throw new UsageException($"--reconnect takes exponential, jitter, linear, constant, infinite or none, not '{name}'."),
    };

    /// <summary>Sends each line typed until the input ends; a failed send is reported and typing goes on.</summary>
    private static async Task SendTypedLinesAsync(LocalWebSocketClient client, TextReader input, IConnectOutput printer, CancellationToken stop)
    {
        try
        {
            while (await input.ReadLineAsync(stop) is { } typed)
            {
                try
                {
                    await client.SendAsync(typed, stop);
                    printer.Sent(typed);
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

    private interface IConnectOutput
    {
        void State(ConnectionStateChangedEventArgs change);

        void Message(WebSocketMessage message);

        void Sent(string text);

        void Error(LocalWebSocketException error);

        void Info(string text);
    }

    private sealed class TranscriptOutput(TextWriter output) : IConnectOutput
    {
        private readonly Transcript _log = new(output);

        public void State(ConnectionStateChangedEventArgs change) => _log.Line("state", change.ToString());

        public void Message(WebSocketMessage message) => _log.Line("<", Transcript.Describe(message, int.MaxValue));

        public void Sent(string text) => _log.Line(">", $"text \"{text}\"");

        public void Error(LocalWebSocketException error) =>
            _log.Line("error", $"{error.Code}: {error.Message}{(error.StatusCode is { } status ? $" (HTTP {status})" : "")}");

        public void Info(string text) => _log.Line("client", text);
    }

    /// <summary>One JSON object per line: state, message and error events, for scripts.</summary>
    private sealed class JsonOutput(TextWriter output) : IConnectOutput
    {
        private readonly Lock _gate = new();

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

        private void Write(Action<Utf8JsonWriter> body)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                body(json);
                json.WriteEndObject();
            }

            lock (_gate)
            {
                output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
                output.Flush();
            }
        }
    }
}
