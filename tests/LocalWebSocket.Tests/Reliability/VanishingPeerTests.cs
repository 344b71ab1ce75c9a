using System.Diagnostics;
using LocalWebSocket.Tests.Support;
using Xunit.Abstractions;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>
/// A peer that vanishes without a FIN or a reset (its cable pulled: its port on the namespace LAN's bridge
/// goes down, every packet is dropped). Without keep-alive TCP would not notice for a quarter of an hour;
/// with it both sides notice within the keep-alive interval plus its timeout, free the connection, and the
/// client comes back by itself when the cable is plugged in again.
/// </summary>
public sealed class VanishingPeerTests(ITestOutputHelper output)
{
    private const double IntervalSeconds = 1;
    private const double TimeoutSeconds = 1;

    /// <summary>
    /// The BCL pings once the interval has passed since the last frame received, and checks the pong's
    /// deadline on a heartbeat of a quarter of the smaller of the two: detection is at most interval + timeout
    /// + that tick after the last frame. Plus a second for the line to cross two processes' output pipes.
    /// </summary>
    private static readonly TimeSpan DetectionBound = TimeSpan.FromSeconds(IntervalSeconds + TimeoutSeconds + (Math.Min(IntervalSeconds, TimeoutSeconds) / 4) + 1);

    [NamespaceFact]
    public async Task Both_sides_detect_a_vanished_peer_within_keep_alive_and_free_it_and_the_client_comes_back()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);
        var server = NamespaceLan.Address(1);
        string[] keepAlive = ["--keep-alive", $"{IntervalSeconds}", "--keep-alive-timeout", $"{TimeoutSeconds}"];

        await using var lws = lan.StartLws(1, ["serve", "--host", server, "--port", "8080", "--echo", "--no-mdns", "--duration", "90", .. keepAlive]);
        await lws.WaitForLineContainingAsync("listening on");

        // A client on the server's own host, which nothing below disturbs, and the one whose cable is pulled.
        await using var neighbour = lan.StartLwsWithInput(1, ["connect", $"ws://{server}:8080/ws", "--json", "--detail", "username=neighbour", .. keepAlive]);
        await neighbour.WaitForLineContainingAsync("\"state\":\"connected\"");
        await using var roamer = lan.StartLwsWithInput(2, ["connect", $"ws://{server}:8080/ws", "--json", "--detail", "username=roamer", .. keepAlive]);
        await roamer.WaitForLineContainingAsync("\"state\":\"connected\"");
        await lws.WaitForLineContainingAsync("(2 connected)");

        await SendAsync(roamer, "before");
        await roamer.WaitForLineContainingAsync("\"text\":\"before\"");

        var unplugged = Stopwatch.StartNew();
        await lan.SetLinkAsync(2, up: false);

        var serverSide = DetectAsync(lws, "left with no close frame", unplugged);
        var clientSide = DetectAsync(roamer, "\"state\":\"reconnecting\"", unplugged);
        var (serverDetected, clientDetected) = (await serverSide, await clientSide);
        output.WriteLine($"unplugged: the server freed the client after {serverDetected.TotalSeconds:F2} s, the client noticed after {clientDetected.TotalSeconds:F2} s");
        Assert.True(serverDetected <= DetectionBound, $"the server freed the vanished client after {serverDetected.TotalSeconds:F2} s");
        Assert.True(clientDetected <= DetectionBound, $"the client noticed the vanished server after {clientDetected.TotalSeconds:F2} s");

        // Only the vanished client went: the neighbour still round-trips, and the server's count says one left.
        Assert.Single(lws.Lines.Items, line => line.Contains("left", StringComparison.Ordinal));
        await SendAsync(neighbour, "still here");
        await neighbour.WaitForLineContainingAsync("\"text\":\"still here\"");

        // Cable back in: the client's default policy brings it back, and its messages flow again.
        await lan.SetLinkAsync(2, up: true);
        await roamer.WaitForLineContainingAsync("\"state\":\"reconnected\"");
        await SendAsync(roamer, "after");
        await roamer.WaitForLineContainingAsync("\"text\":\"after\"");
        await neighbour.WaitForLineContainingAsync("\"text\":\"after\"");
    }

    private static async Task SendAsync(PeerProcess client, string line)
    {
        await client.StandardInput.WriteLineAsync(line);
        await client.StandardInput.FlushAsync();
    }

    private static async Task<TimeSpan> DetectAsync(PeerProcess process, string text, Stopwatch since)
    {
        await process.WaitForLineContainingAsync(text);
        return since.Elapsed;
    }
}
