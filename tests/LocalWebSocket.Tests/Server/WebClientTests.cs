using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

/// <summary>The web client as the server serves it (the page in a real browser: the Chromium tests, issue #16).</summary>
public sealed class WebClientTests
{
    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    [Fact]
    public async Task The_page_is_self_contained_html_with_a_policy_that_keeps_it_so()
    {
        await using var server = await TestServers.StartAsync(o => o.WebClientPath = "/app");

        var response = await RawConnection.ExchangeAsync(server.Port, "GET /app?name=Ana HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var html = Body(response);

        Assert.Equal(200, RawConnection.StatusOf(response));
        Assert.Contains("Content-Type: text/html; charset=utf-8", response, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Security-Policy: default-src 'self'", response, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("<!doctype html>", html, StringComparison.Ordinal);
        // Nothing fetched from elsewhere: no CDN, no external script, style, font or image.
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain(" src=", html, StringComparison.Ordinal);
        Assert.All(System.Text.RegularExpressions.Regex.Matches(html, "<link[^>]*>"), link => Assert.Contains("href=\"data:", link.Value, StringComparison.Ordinal));
        Assert.Contains("/ws?username=", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_client_list_names_who_is_connected_with_their_details()
    {
        await using var server = await TestServers.StartAsync(o => o.WebClientPath = "/app");
        await using var ana = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["name"] = "Ana" }, ReconnectPolicy = ReconnectPolicy.None });
        await ana.ConnectAsync(server.WebSocketUrl).Within();
        await TestServers.UntilAsync(() => server.Clients.Count == 1, "Ana joined");

        var response = await RawConnection.ExchangeAsync(server.Port, "GET /app/clients HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, RawConnection.StatusOf(response));
        var entry = Assert.Single(JsonNode.Parse(Body(response))!.AsArray())!;
        Assert.Equal(server.Clients[0].Id, entry["id"]!.GetValue<string>());
        Assert.Equal("Ana", entry["details"]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("app")]
    [InlineData("/app/")]
    [InlineData("/app/*")]
    [InlineData("/ws")]
    public void A_web_client_path_that_is_not_a_page_path_is_refused_when_set(string path)
    {
        var options = new LocalWebSocketServerOptions();

        Assert.ThrowsAny<ArgumentException>(() => options.WebClientPath = path);
        Assert.Null(options.WebClientPath);
    }

    [Fact]
    public async Task Options_read_from_a_server_with_the_web_client_make_another_such_server()
    {
        await using var first = new LocalWebSocketServer(new LocalWebSocketServerOptions { WebClientPath = "/app" });

        await using var second = new LocalWebSocketServer(first.Options);

        // Its own page and client list, not the first server's: the options hold only the app's own routes.
        Assert.Equal("/app", second.Options.WebClientPath);
        Assert.Empty(second.Options.Routes.Paths);
        Assert.Equal(["/app", "/app/clients"], second.RoutePaths);
    }
}
