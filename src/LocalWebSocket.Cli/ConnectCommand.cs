using LocalWebSocket.Client;

namespace LocalWebSocket.Cli;

/// <summary><c>lws connect</c>: an interactive client; lines typed are sent, messages received are printed.</summary>
internal static class ConnectCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextReader input, CancellationToken stop)
    {
        var line = CommandLine.Parse(args, ["--detail"], []);
        if (line.Positional.Count != 1)
        {
            throw new UsageException("connect takes one URL, e.g. lws connect ws://127.0.0.1:8080/ws");
        }

        if (!Uri.TryCreate(line.Positional[0], UriKind.Absolute, out var url) || url.Scheme != "ws")
        {
            throw new UsageException($"'{line.Positional[0]}' is not a ws:// URL.");
        }

        var options = new LocalWebSocketClientOptions();
        foreach (var (key, value) in line.Pairs("--detail"))
        {
            options.Details[key] = value;
        }

        var log = new Transcript(output);
        await using var client = new LocalWebSocketClient(options);
        var closed = new TaskCompletionSource<ConnectionStateChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageReceived += (_, message) => log.Line("<", Transcript.Describe(message, int.MaxValue));
        client.StateChanged += (_, change) =>
        {
            log.Line("state", change.ToString());
            if (change.State == ConnectionState.Disconnected && change.PreviousState != ConnectionState.Connecting)
            {
                closed.TrySetResult(change);
            }
        };

        await client.ConnectAsync(url, stop);
        log.Line("client", $"connected to {client.Url}; type lines to send them, end input (Ctrl+D) to leave");

        var typing = SendTypedLinesAsync(client, input, log, stop);
        var first = await Task.WhenAny(typing, closed.Task);
        if (first == closed.Task)
        {
            var change = await closed.Task;
            return change.Error is null ? 0 : 1;
        }

        await client.DisconnectAsync(CancellationToken.None);
        return (await typing) ? 0 : 1;
    }

    /// <summary>Sends each line typed until the input ends; false when a send failed.</summary>
    private static async Task<bool> SendTypedLinesAsync(LocalWebSocketClient client, TextReader input, Transcript log, CancellationToken stop)
    {
        try
        {
            while (await input.ReadLineAsync(stop) is { } typed)
            {
                if (!client.IsConnected)
                {
                    return false;
                }

                await client.SendAsync(typed, stop);
                log.Line(">", $"text \"{typed}\"");
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: leave as at end of input.
        }
        catch (LocalWebSocketException exception)
        {
            log.Line("client", $"send failed: {exception.Message}");
            return false;
        }

        return true;
    }
}
