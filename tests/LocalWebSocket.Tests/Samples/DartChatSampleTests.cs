using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Samples;

/// <summary>samples/DartChat, the Dart README's chat example ported line by line, run as its README says.</summary>
public sealed class DartChatSampleTests
{
    private static readonly string Sample = PeerProcess.BuiltProgram("samples/DartChat", "DartChat.dll");

    [Fact]
    public async Task The_client_scans_finds_the_server_joins_and_its_message_is_received()
    {
        await using var server = PeerProcess.StartRaw("dotnet", Sample, "server", "127.0.0.1", "0");
        var started = await server.WaitForLineAsync("Chat server started at http://127.0.0.1:");
        var port = new Uri(started["Chat server started at ".Length..]).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await using var client = PeerProcess.StartRaw("dotnet", Sample, "client", "127.0.0", port);
        await client.WaitForLineAsync("Scanning for chat servers...");
        await client.WaitForLineAsync("Connected to chat!");

        await server.WaitForLineAsync("Users online: 1");
        Assert.Equal("Message received: Hello everyone!", await server.WaitForLineAsync("Message received: "));
    }

    [Fact]
    public async Task The_client_says_when_no_server_answers()
    {
        using var unused = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        unused.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.31.1"), 0));
        var port = ((System.Net.IPEndPoint)unused.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await using var client = PeerProcess.StartRaw("dotnet", Sample, "client", "127.0.31.1", port);

        Assert.Equal(0, await client.WaitForExitAsync());
        Assert.Contains("No servers found", client.Output, StringComparison.Ordinal);
    }
}
