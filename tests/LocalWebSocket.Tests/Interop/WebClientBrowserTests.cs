using System.Text.Json;
using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>
/// The web client (<see cref="LocalWebSocketServerOptions.WebClientPath"/>) in real Chromium (Debian's, driven
/// by playwright-core): what a person with a phone and no app does, against our server on 127.0.0.1.
/// </summary>
[Collection(nameof(WebClientBrowserTests))]
public sealed class WebClientBrowserTests
{
    /// <summary>A phone's viewport (CSS pixels of a small Android phone).</summary>
    private const int PhoneWidth = 360;
    private const int PhoneHeight = 740;

    /// <summary>Emoji (a surrogate pair and a modifier), CJK and two right-to-left scripts in one message.</summary>
    private const string Unicode = "emoji 😀👍🏽 CJK 漢字かな한글 RTL שלום مرحبا";

    private static Task<LocalWebSocketServer> StartAsync(RoutingMode routing = RoutingMode.Broadcast) => TestServers.StartAsync(o =>
    {
        o.WebClientPath = "/app";
        o.Routing = routing;
        o.Details = new JsonObject { ["name"] = "Classroom", ["room"] = "B12" };
    });

    private static string PageUrl(LocalWebSocketServer server, string? name) =>
        $"http://127.0.0.1:{server.Port}/app" + (name is null ? "" : "?name=" + Uri.EscapeDataString(name));

    [Fact]
    public async Task Two_pages_chat_through_our_server_each_message_shown_once_with_its_senders_name()
    {
        await using var server = await StartAsync();
        await using var browser = await BrowserPeer.LaunchAsync();
        await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana"));
        await OpenConnectedAsync(browser, "bo", PageUrl(server, "Bo"));
        await browser.WaitUntilAsync("ana", ListNames("Ana", "Bo"));

        await browser.TypeAsync("ana", "#text", "hello Bo");
        await browser.WaitUntilAsync("bo", HasMessage("Ana", "hello Bo"));
        await browser.TypeAsync("bo", "#text", "hi Ana");
        await browser.WaitUntilAsync("ana", HasMessage("Bo", "hi Ana"));

        Assert.Equal(1, (await browser.EvaluateAsync("ana", CountMessages("hello Bo"))).GetInt32());
        Assert.Equal(1, (await browser.EvaluateAsync("bo", CountMessages("hi Ana"))).GetInt32());
        Assert.True((await browser.EvaluateAsync("ana", HasMessage("me", "hello Bo"))).GetBoolean());
        Assert.Equal("Classroom", (await browser.EvaluateAsync("ana", "document.title")).GetString());
        await NoErrorsAsync(browser, "ana");
        await NoErrorsAsync(browser, "bo");
        Assert.Equal(["Ana", "Bo"], server.Clients.Select(c => c.Details["username"]).Order());
    }

    [Fact]
    public async Task With_the_token_in_its_address_the_page_joins_and_one_without_it_or_with_a_wrong_one_is_told_why_and_stops()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.WebClientPath = "/app";
            o.RequestAuthenticator = new LocalWebSocket.Security.QueryTokenAuthenticator(["s3 cret"]);
        });
        await using var browser = await BrowserPeer.LaunchAsync();

        // What lws serve --web --token prints and puts in its QR code: the page passes the token on.
        var withToken = "&token=" + Uri.EscapeDataString("s3 cret");
        await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana") + withToken);
        await browser.WaitUntilAsync("ana", ListNames("Ana"));
        var ana = Assert.Single(server.Clients);
        Assert.Equal("Ana", ana.Details["username"]);
        Assert.False(ana.Details.ContainsKey("token"));
        await NoErrorsAsync(browser, "ana");

        await browser.OpenAsync("eve", PageUrl(server, "Eve"));
        await browser.WaitUntilAsync("eve", "document.getElementById('state').dataset.state === 'refused'");
        Assert.Equal(
            "not let in: Missing token parameter (HTTP 401); open the link with the server's token",
            (await browser.EvaluateAsync("eve", "document.getElementById('state').textContent")).GetString());
        Assert.Equal(0, (await browser.EvaluateAsync("eve", "document.querySelectorAll('#clients li').length")).GetInt32());
        await browser.OpenAsync("mallory", PageUrl(server, "Mallory") + "&token=guess");
        await browser.WaitUntilAsync("mallory", "document.getElementById('state').dataset.state === 'refused'");
        Assert.Equal("not let in: Invalid token (HTTP 403)", (await browser.EvaluateAsync("mallory", "document.getElementById('state').textContent")).GetString());
        // Each page's upgrade and its look at the client list, and no retry: a wrong token does not become right.
        Assert.Equal(4, server.GetStatistics().AuthenticationFailures);
        await browser.TypeAsync("ana", "#text", "still here");
        await browser.WaitUntilAsync("ana", HasMessage("me", "still here"));
        await OpenConnectedAsync(browser, "bo", PageUrl(server, "Bo") + withToken);
        Assert.Equal(4, server.GetStatistics().AuthenticationFailures);
        foreach (var page in new[] { "eve", "mallory" })
        {
            Assert.Equal("refused", (await browser.EvaluateAsync(page, "document.getElementById('state').dataset.state")).GetString());
        }
    }

    [Fact]
    public async Task A_page_and_our_dotnet_client_chat_in_echo_mode_and_the_page_shows_its_own_message_once()
    {
        await using var server = await StartAsync(RoutingMode.Echo);
        await using var browser = await BrowserPeer.LaunchAsync();
        await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana"));
        await using var dotnet = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["username"] = "dotnet" } });
        var got = new Probe<WebSocketMessage>();
        dotnet.MessageReceived += (_, m) => got.Add(m);
        await dotnet.ConnectAsync(server.WebSocketUrl).Within();

        await browser.TypeAsync("ana", "#text", "hi dotnet");
        var chat = JsonNode.Parse((await got.WaitForCountAsync(1))[0].Text)!;
        await dotnet.SendJsonAsync(new JsonObject { ["type"] = "chat", ["username"] = "dotnet", ["text"] = "hi Ana" });
        await dotnet.SendAsync("plain text from a client that is not a page");

        await browser.WaitUntilAsync("ana", HasMessage("", "plain text from a client that is not a page"));
        Assert.Equal("chat", chat["type"]!.GetValue<string>());
        Assert.Equal("Ana", chat["username"]!.GetValue<string>());
        Assert.Equal("hi dotnet", chat["text"]!.GetValue<string>());
        Assert.True((await browser.EvaluateAsync("ana", HasMessage("dotnet", "hi Ana"))).GetBoolean());
        // Echo mode sends the page its own message back: shown once, as its own.
        Assert.Equal(1, (await browser.EvaluateAsync("ana", CountMessages("hi dotnet"))).GetInt32());
        Assert.True((await browser.EvaluateAsync("ana", HasMessage("me", "hi dotnet"))).GetBoolean());
        await NoErrorsAsync(browser, "ana");
    }

    [Fact]
    public async Task The_pages_client_list_changes_as_others_join_and_leave()
    {
        await using var server = await StartAsync();
        await using var browser = await BrowserPeer.LaunchAsync();
        await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana"));
        await browser.WaitUntilAsync("ana", ListNames("Ana"));

        await using (var zed = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["username"] = "Zed" } }))
        {
            await zed.ConnectAsync(server.WebSocketUrl).Within();
            await browser.WaitUntilAsync("ana", ListNames("Ana", "Zed"));
            await OpenConnectedAsync(browser, "bo", PageUrl(server, "Bo"));
            await browser.WaitUntilAsync("ana", ListNames("Ana", "Bo", "Zed"));
            await browser.WaitForTextAsync("ana", "#log", "Zed joined");
        }

        await browser.WaitUntilAsync("ana", ListNames("Ana", "Bo"));
        await browser.WaitForTextAsync("ana", "#log", "Zed left");
        await browser.CloseAsync("bo");
        await browser.WaitUntilAsync("ana", ListNames("Ana"));
        Assert.Equal("1", (await browser.EvaluateAsync("ana", "document.getElementById('count').textContent")).GetString());
    }

    [Fact]
    public async Task The_page_reconnects_by_itself_after_the_server_restarts()
    {
        var server = await StartAsync();
        var port = server.Port;
        await using var browser = await BrowserPeer.LaunchAsync();
        try
        {
            await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana"));
            await browser.WaitUntilAsync("ana", "!document.getElementById('details').hidden");

            await server.StopAsync(CancellationToken.None).Within();
            // The log, not the state line: a retry may already have failed (1006, nobody listens) by the time we look.
            await browser.WaitForTextAsync("ana", "#log", "disconnected (");
            var shown = (await browser.EvaluateAsync("ana", "[...document.querySelectorAll('#log li.note')].find(li => li.textContent.startsWith('disconnected (')).textContent")).GetString();
            // Disconnected, the page does not claim to know who is connected; a retry that finds nobody says so in words.
            Assert.Equal(0, (await browser.EvaluateAsync("ana", "document.querySelectorAll('#clients li').length")).GetInt32());
            await browser.WaitUntilAsync("ana", "document.getElementById('state').textContent.startsWith('cannot reach the server, retrying (attempt ')");
            await server.DisposeAsync();
            server = await TestServers.StartAsync(o =>
            {
                o.Port = port;
                o.WebClientPath = "/app";
            });

            // Full jitter from 0.5 s doubling: the page is back within a few seconds of the server.
            await browser.WaitUntilAsync("ana", "document.getElementById('state').dataset.state === 'connected'", 30_000);
            Assert.Equal("disconnected (1001 Server stopping)", shown);
            await TestServers.UntilAsync(() => server.Clients.Count == 1, "the page is back");
            await browser.WaitUntilAsync("ana", ListNames("Ana"));
            // The restarted server has no details: the page shows no empty "Server" section.
            await browser.WaitUntilAsync("ana", "document.getElementById('details').hidden");
            Assert.Equal("Ana", server.Clients[0].Details["username"]);
            await using var dotnet = new LocalWebSocketClient();
            await dotnet.ConnectAsync(server.WebSocketUrl).Within();
            await dotnet.SendAsync("after the restart");
            await browser.WaitUntilAsync("ana", HasMessage("", "after the restart"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Utf8_text_and_binary_messages_survive_both_ways()
    {
        await using var server = await StartAsync();
        await using var browser = await BrowserPeer.LaunchAsync();
        await OpenConnectedAsync(browser, "ana", PageUrl(server, "Ana 😀"));
        await OpenConnectedAsync(browser, "bo", PageUrl(server, "Bo"));
        await using var dotnet = new LocalWebSocketClient();
        var got = new Probe<WebSocketMessage>();
        dotnet.MessageReceived += (_, m) => got.Add(m);
        await dotnet.ConnectAsync(server.WebSocketUrl).Within();
        await browser.WaitUntilAsync("ana", "document.querySelectorAll('#clients li').length === 3");

        await browser.TypeAsync("ana", "#text", Unicode);
        var chat = (await got.WaitForCountAsync(1))[0];
        await browser.WaitUntilAsync("bo", HasMessage("Ana 😀", Unicode));
        await dotnet.SendAsync(Unicode);
        await dotnet.SendAsync(new byte[] { 0, 1, 2, 255, 0xC3 }.AsMemory());

        await browser.WaitUntilAsync("ana", HasMessage("", Unicode));
        await browser.WaitForTextAsync("ana", "#log", "binary message, 5 bytes");
        Assert.Equal(Unicode, JsonNode.Parse(chat.Text)!["text"]!.GetValue<string>());
        Assert.Contains(server.Clients, c => c.Details.TryGetValue("username", out var name) && name == "Ana 😀");
    }

    [Fact]
    public async Task On_a_phone_the_page_is_usable_with_the_keyboard_and_never_scrolls_sideways()
    {
        await using var server = await StartAsync();
        await using var browser = await BrowserPeer.LaunchAsync();
        await using var dotnet = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["username"] = "A-very-long-display-name-without-spaces-at-all" } });
        await dotnet.ConnectAsync(server.WebSocketUrl).Within();

        // No ?name=: the page asks, with the focus already in the name field.
        await browser.OpenAsync("phone", PageUrl(server, null), PhoneWidth, PhoneHeight);
        await browser.WaitUntilAsync("phone", "document.activeElement && document.activeElement.id === 'name'");
        Assert.Equal(0, (await browser.EvaluateAsync("phone", SidewaysScroll)).GetInt32());
        await browser.TypeAsync("phone", "#name", "Ana");
        await browser.WaitUntilAsync("phone", Connected);
        Assert.Equal("text", (await browser.EvaluateAsync("phone", "document.activeElement.id")).GetString());
        await browser.TypeAsync("phone", "#text", "typed with the keyboard only");
        await dotnet.SendAsync(new string('W', 150));
        await dotnet.SendAsync("https://example.invalid/" + new string('x', 200));
        await browser.WaitUntilAsync("phone", HasMessage("", new string('W', 150)));
        await browser.WaitUntilAsync("phone", ListNames("A-very-long-display-name-without-spaces-at-all", "Ana"));

        Assert.Equal(0, (await browser.EvaluateAsync("phone", SidewaysScroll)).GetInt32());
        Assert.True((await browser.EvaluateAsync("phone", HasMessage("me", "typed with the keyboard only"))).GetBoolean());
        await NoErrorsAsync(browser, "phone");

        // The screenshots the README shows: the same room on the phone and on a desktop-sized window.
        await OpenConnectedAsync(browser, "desktop", PageUrl(server, "Bo"));
        await browser.WaitUntilAsync("desktop", "document.querySelectorAll('#clients li').length === 3");
        await browser.TypeAsync("desktop", "#text", "Hi everyone, Bo here on a laptop");
        await dotnet.SendJsonAsync(new JsonObject { ["type"] = "chat", ["username"] = "Teacher", ["text"] = "Welcome! Open http://<this machine>:8080/app on your phone" });
        await browser.TypeAsync("phone", "#text", "Ana here, on my phone");
        await browser.WaitUntilAsync("desktop", HasMessage("Ana", "Ana here, on my phone"));
        await browser.WaitUntilAsync("phone", HasMessage("Bo", "Hi everyone, Bo here on a laptop"));
        await browser.WaitUntilAsync("phone", ListNames("A-very-long-display-name-without-spaces-at-all", "Ana", "Bo"));
        Assert.Equal(0, (await browser.EvaluateAsync("phone", SidewaysScroll)).GetInt32());
        // However many messages, the page stays one screen: the messages scroll, the send box stays in view.
        Assert.Equal(0, (await browser.EvaluateAsync("phone", "document.documentElement.scrollHeight - window.innerHeight")).GetInt32());
        Assert.True((await browser.EvaluateAsync("phone", "document.getElementById('text').getBoundingClientRect().bottom <= window.innerHeight")).GetBoolean());
        Assert.True((await browser.EvaluateAsync("phone", "(l => l.scrollHeight > l.clientHeight && l.scrollTop > 0)(document.getElementById('log'))")).GetBoolean());
        var screenshots = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(PeerProcess.PeersDirectory))!, "docs", "screenshots");
        Directory.CreateDirectory(screenshots);
        foreach (var page in new[] { "phone", "desktop" })
        {
            var shot = Path.Combine(screenshots, $"web-client-{page}.png");
            await browser.ScreenshotAsync(page, shot);
            Assert.True(new FileInfo(shot).Length > 1000, shot);
        }
    }

    /// <summary>How many CSS pixels the page is wider than its viewport (0: no sideways scroll).</summary>
    private const string SidewaysScroll = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth";

    private const string Connected = "document.getElementById('state').dataset.state === 'connected'";

    /// <summary>The page had no script error and nothing failed to load (a 404, a request the policy refused).</summary>
    private static async Task NoErrorsAsync(BrowserPeer browser, string page)
    {
        var errors = await browser.ErrorsAsync(page);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    private static async Task OpenConnectedAsync(BrowserPeer browser, string page, string url)
    {
        await browser.OpenAsync(page, url);
        await browser.WaitUntilAsync(page, Connected);
    }

    private static string Js(string text) => JsonSerializer.Serialize(text);

    /// <summary>Whether the log shows <paramref name="text"/> from <paramref name="from"/> ("" for a message with no sender).</summary>
    private static string HasMessage(string from, string text) =>
        $"[...document.querySelectorAll('#log li:not(.note)')].some(li => ((li.querySelector('.from') || {{}}).textContent || '') === {Js(from)} && li.lastChild.textContent === {Js(text)})";

    private static string CountMessages(string text) =>
        $"[...document.querySelectorAll('#log li:not(.note)')].filter(li => li.lastChild.textContent === {Js(text)}).length";

    /// <summary>Whether the client list shows exactly these names, in any order.</summary>
    private static string ListNames(params string[] names) =>
        $"JSON.stringify([...document.querySelectorAll('#clients li')].map(li => li.textContent).sort()) === {Js(JsonSerializer.Serialize(names.Order(StringComparer.Ordinal)))}";
}
