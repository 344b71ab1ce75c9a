using System.Text.Json;
using System.Text.Json.Nodes;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// Debian's Chromium, driven by playwright-core through <c>tests/peers/browser_driver.js</c>: the test says
/// what to do, one command at a time, and gets each answer (or the browser's error) back.
/// </summary>
internal sealed class BrowserPeer : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";

    private readonly PeerProcess _driver;
    private int _sequence;

    private BrowserPeer(PeerProcess driver) => _driver = driver;

    /// <summary>The browser's version, e.g. <c>156.0.8078.79</c>.</summary>
    public string Version { get; private set; } = "";

    public static async Task<BrowserPeer> LaunchAsync()
    {
        if (!File.Exists(Chromium) || !Directory.Exists(Path.Combine(PeerProcess.PeersDirectory, "node_modules", "playwright-core")))
        {
            throw new InvalidOperationException("Chromium or playwright-core is missing: run tests/peers/install.sh (test.sh runs it), which installs them.");
        }

        var browser = new BrowserPeer(PeerProcess.StartRaw("node", redirectInput: true, "browser_driver.js", "240"));
        var ready = await browser._driver.WaitForLineContainingAsync("\"seq\":0", TimeSpan.FromSeconds(60));
        browser.Version = Answer(ready).GetString()!.Split(' ')[1];
        return browser;
    }

    /// <summary>Opens <paramref name="url"/> in a page of its own (its own storage), with this viewport.</summary>
    public Task OpenAsync(string page, string url, int width = 1024, int height = 768) =>
        RunAsync(new JsonObject { ["op"] = "open", ["page"] = page, ["url"] = url, ["width"] = width, ["height"] = height });

    /// <summary>Focuses <paramref name="selector"/>, types <paramref name="text"/> with the keyboard, presses Enter.</summary>
    public Task TypeAsync(string page, string selector, string text) =>
        RunAsync(new JsonObject { ["op"] = "type", ["page"] = page, ["selector"] = selector, ["text"] = text });

    /// <summary>Waits until the text of <paramref name="selector"/> contains <paramref name="text"/>.</summary>
    public Task WaitForTextAsync(string page, string selector, string text) =>
        RunAsync(new JsonObject { ["op"] = "waitText", ["page"] = page, ["selector"] = selector, ["text"] = text });

    /// <summary>Waits until the JavaScript expression is truthy in the page.</summary>
    public Task WaitUntilAsync(string page, string expression, int timeoutMs = 10_000) =>
        RunAsync(new JsonObject { ["op"] = "waitEval", ["page"] = page, ["expr"] = expression, ["timeoutMs"] = timeoutMs });

    /// <summary>The value of a JavaScript expression in the page.</summary>
    public Task<JsonElement> EvaluateAsync(string page, string expression) =>
        RunAsync(new JsonObject { ["op"] = "eval", ["page"] = page, ["expr"] = expression });

    public Task ScreenshotAsync(string page, string path) =>
        RunAsync(new JsonObject { ["op"] = "screenshot", ["page"] = page, ["path"] = path });

    /// <summary>The page's script errors and console errors so far.</summary>
    public async Task<IReadOnlyList<string>> ErrorsAsync(string page) =>
        (await RunAsync(new JsonObject { ["op"] = "errors", ["page"] = page })).EnumerateArray().Select(e => e.GetString()!).ToList();

    public Task CloseAsync(string page) => RunAsync(new JsonObject { ["op"] = "close", ["page"] = page });

    private async Task<JsonElement> RunAsync(JsonObject command)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        command["seq"] = sequence;
        await _driver.StandardInput.WriteLineAsync(command.ToJsonString());
        await _driver.StandardInput.FlushAsync();
        // The driver's own waits end first (10 s unless told), so that its error, not our timeout, is what we see.
        var driverWait = TimeSpan.FromMilliseconds(command["timeoutMs"]?.GetValue<int>() ?? 10_000);
        var line = await _driver.WaitForLineContainingAsync($"{{\"seq\":{sequence},", driverWait + TimeSpan.FromSeconds(20));
        return Answer(line);
    }

    private static JsonElement Answer(string line)
    {
        using var answer = JsonDocument.Parse(line);
        var root = answer.RootElement;
        return root.GetProperty("ok").GetBoolean()
            ? root.GetProperty("value").Clone()
            : throw new InvalidOperationException("browser: " + root.GetProperty("error").GetString());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _driver.StandardInput.Close();
            await _driver.WaitForExitAsync();
        }
        finally
        {
            await _driver.DisposeAsync();
        }
    }
}
