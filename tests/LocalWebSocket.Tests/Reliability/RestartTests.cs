using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using LocalWebSocket.Client;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>
/// A server process killed outright (SIGKILL: no close frames, no FIN handshake of its own making) and started
/// again on the same port: clients with the default policy come back by themselves, and what was sent while
/// the server was gone (<see cref="OfflineSendMode.Queue"/>) arrives exactly once, in order.
/// </summary>
public sealed partial class RestartTests
{
    private const int BeforeKill = 10;
    private const int WhileDown = 20;

    [Fact]
    public async Task After_a_SIGKILL_and_a_restart_on_the_same_port_queued_messages_arrive_exactly_once_in_order()
    {
        var port = FreePort();
        var first = StartServer(port);
        var firstKilled = false;
        try
        {
            await first.Lines.WaitUntilAsync(lines => lines.Any(line => line.Contains("listening on", StringComparison.Ordinal)));
            await using var sender = new LocalWebSocketClient(new LocalWebSocketClientOptions { OfflineSendMode = OfflineSendMode.Queue });
            var states = new Probe<ConnectionState>();
            sender.StateChanged += (_, e) => states.Add(e.State);
            await sender.ConnectAsync($"ws://127.0.0.1:{port}/ws").Within();

            for (var i = 0; i < BeforeKill; i++)
            {
                await sender.SendAsync($"msg-{i:D3}");
            }

            await first.Lines.WaitUntilAsync(lines => RelayedMessages(lines).Count == BeforeKill);
            await first.DisposeAsync(); // Process.Kill: SIGKILL on Linux.
            firstKilled = true;
            await states.WaitUntilAsync(s => s[^1] == ConnectionState.Reconnecting);

            // Sent while nothing listens: queued, in order, and each send completes once its message is written.
            var queued = Enumerable.Range(BeforeKill, WhileDown).Select(i => sender.SendAsync($"msg-{i:D3}").AsTask()).ToList();
            await using var second = StartServer(port);
            await states.WaitUntilAsync(s => s[^1] == ConnectionState.Reconnected);
            await Task.WhenAll(queued).WaitAsync(TestServers.Timeout);
            await sender.SendAsync($"msg-{BeforeKill + WhileDown:D3}");

            await second.Lines.WaitUntilAsync(lines => RelayedMessages(lines).Contains($"msg-{BeforeKill + WhileDown:D3}"));
            Assert.Equal(
                Enumerable.Range(BeforeKill, WhileDown + 1).Select(i => $"msg-{i:D3}"),
                RelayedMessages(second.Lines.Items));
            Assert.Equal(BeforeKill, RelayedMessages(first.Lines.Items).Count);
        }
        finally
        {
            if (!firstKilled)
            {
                await first.DisposeAsync();
            }
        }
    }

    private static PeerProcess StartServer(int port) =>
        PeerProcess.StartRaw("dotnet", PeerProcess.LwsDll, "serve", "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-mdns", "--echo");

    /// <summary>The messages the server's transcript shows it received, in order.</summary>
    private static List<string> RelayedMessages(IReadOnlyList<string> lines) =>
        [.. lines.Select(line => ReceivedLine().Match(line)).Where(match => match.Success).Select(match => match.Groups[1].Value)];

    [GeneratedRegex("< [0-9a-f]+: text \"(msg-\\d{3})\"")]
    private static partial Regex ReceivedLine();

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
