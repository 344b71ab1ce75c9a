using System.Text.Json;
using System.Text.Json.Nodes;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

public sealed class DetailsDocumentTests
{
    private static string BodyOf(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    private static IEnumerable<string> HeaderLines(string response) =>
        response[..response.IndexOf("\r\n\r\n", StringComparison.Ordinal)].Split("\r\n").Skip(1);

    [Fact]
    public async Task Get_root_answers_the_details_with_exactly_one_server_header()
    {
        await using var server = await TestServers.StartAsync(o => o.Details = new JsonObject { ["name"] = "Game Server", ["maxPlayers"] = 4 });

        var response = await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        var serverHeaders = HeaderLines(response).Where(l => l.StartsWith("Server:", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.Equal(["Server: local-websocket/1.0.0"], serverHeaders);
        Assert.Contains("Content-Type: application/json; charset=utf-8", HeaderLines(response));
        var body = BodyOf(response);
        Assert.Contains($"Content-Length: {body.Length}", HeaderLines(response));
        Assert.Equal("""{"name":"Game Server","maxPlayers":4}""", body);
    }

    [Fact]
    public async Task Empty_details_are_an_empty_object()
    {
        await using var server = await TestServers.StartAsync();
        var response = await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        Assert.Equal("{}", BodyOf(response));
    }

    [Fact]
    public async Task Head_root_answers_the_same_headers_without_a_body()
    {
        await using var server = await TestServers.StartAsync(o => o.Details = new JsonObject { ["a"] = 1 });

        var response = await RawConnection.ExchangeAsync(server.Port, "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        Assert.Contains("Server: local-websocket/1.0.0", HeaderLines(response));
        Assert.Contains("Content-Length: 7", HeaderLines(response));
        Assert.Equal("", BodyOf(response));
    }

    [Fact]
    public async Task Details_update_while_running_and_keep_alive_serves_several_requests()
    {
        await using var server = await TestServers.StartAsync(o => o.Details = new JsonObject { ["players"] = 0 });
        await using var connection = await RawConnection.OpenAsync(server.Port);

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        var first = await connection.ReadHeadAsync();
        var firstBody = new byte[13];
        await connection.Stream.ReadExactlyAsync(firstBody).AsTask().Within();

        server.UpdateDetails(d => d["players"] = 3);
        await connection.SendAsync("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var second = await connection.ReadToEndAsync();

        Assert.DoesNotContain("Connection: close", first, StringComparison.Ordinal);
        Assert.Equal("""{"players":0}""", System.Text.Encoding.UTF8.GetString(firstBody));
        Assert.Equal("""{"players":3}""", BodyOf(second));
        Assert.Equal(3, (int)server.Details["players"]!);
    }

    [Fact]
    public async Task Http_client_reads_the_document_as_a_json_object()
    {
        await using var server = await TestServers.StartAsync(o => o.Details = new JsonObject { ["name"] = "Zoë's room" });
        using var http = new HttpClient();

        using var response = await http.GetAsync(server.Address).Within();
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("local-websocket/1.0.0", string.Join(",", response.Headers.GetValues("Server")));
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        Assert.Equal("Zoë's room", document.RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Options_details_are_copied_so_later_changes_do_not_leak_in()
    {
        var options = new LocalWebSocket.Server.LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0 };
        options.Details["v"] = 1;
        await using var server = new LocalWebSocket.Server.LocalWebSocketServer(options);
        options.Details["v"] = 2;
        server.Details["v"] = 3;

        Assert.Equal(1, (int)server.Details["v"]!);
    }
}
