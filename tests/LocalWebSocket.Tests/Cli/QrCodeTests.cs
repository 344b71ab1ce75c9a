using LocalWebSocket.Cli;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Cli;

/// <summary>
/// The QR code <c>lws serve --web</c> draws, read back as a phone camera reads it: the text is turned
/// into an image and decoded by ZXing, an implementation that shares nothing with the encoder.
/// </summary>
public sealed class QrCodeTests : IAsyncDisposable
{
    [Fact]
    public async Task Serve_web_with_qr_draws_a_code_that_decodes_to_the_pages_address()
    {
        var (url, decoded, _) = await ServeAndReadTheCodeAsync();

        Assert.Matches(@"^http://127\.0\.0\.1:\d+/app$", url);
        Assert.Equal(url, decoded);
    }

    [Fact]
    public async Task With_a_token_the_pages_address_and_its_code_carry_it_and_let_whoever_scans_it_in()
    {
        var (url, decoded, output) = await ServeAndReadTheCodeAsync("--token", "a b&c", "--token", "second");

        Assert.Matches(@"^http://127\.0\.0\.1:\d+/app\?token=a%20b%26c$", url);
        Assert.Equal(url, decoded);
        Assert.Contains(output.Lines.Items, l => l.EndsWith("web client: " + url + "   (this machine only)", StringComparison.Ordinal));
        // The address works: the page's client list answers it, and not the same address without the token.
        var page = new Uri(url);
        var allowed = await RawConnection.ExchangeAsync(page.Port, $"GET /app/clients{page.Query} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var refused = await RawConnection.ExchangeAsync(page.Port, "GET /app/clients HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        Assert.Equal(200, RawConnection.StatusOf(allowed));
        Assert.Equal(401, RawConnection.StatusOf(refused));
    }

    /// <summary>
    /// Runs <c>lws serve --web --qr</c> with <paramref name="extra"/> until it has printed its addresses: the one
    /// announced for scanning, what its drawing decodes to, and the whole output. Stops it when the test ends.
    /// </summary>
    private async Task<(string Url, string Decoded, LineWriter Output)> ServeAndReadTheCodeAsync(params string[] extra)
    {
        var output = new LineWriter();
        var stop = new CancellationTokenSource();
        var serving = Lws.RunAsync(["serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--web", "--qr", "--duration", "60", .. extra],
            output, output, TextReader.Null, stop.Token);
        _stops.Add(async () =>
        {
            await stop.CancelAsync();
            Assert.Equal(0, await serving.Within());
            stop.Dispose();
        });
        var announced = await output.WaitForLineAsync("scan to join: ");
        await output.WaitForLineAsync("details document: ");
        var url = announced[(announced.IndexOf("http://", StringComparison.Ordinal))..];

        var lines = output.Lines.Items;
        var first = lines.ToList().FindIndex(l => l.Contains("scan to join: ", StringComparison.Ordinal)) + 1;
        var drawing = lines.Skip(first).TakeWhile(l => !l.StartsWith('[')).ToList();
        return (url, Decode(drawing), output);
    }

    private readonly List<Func<Task>> _stops = [];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var stop in _stops)
        {
            await stop();
        }
    }

    [NamespaceFact]
    public async Task On_a_lan_serve_web_prints_the_page_for_each_address_and_draws_the_lan_one_which_a_neighbour_opens()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);
        var address = NamespaceLan.Address(1);
        // "::" listens on IPv4 and IPv6: the code holds the LAN's IPv4 address, which a phone opens.
        await using var server = lan.StartLws(1, "serve", "--host", "::", "--port", "8080", "--no-mdns", "--web", "--qr", "--duration", "60");
        await server.WaitForLineContainingAsync("details document: ");

        var lines = server.Lines.Items.ToList();
        var first = lines.FindIndex(l => l.Contains("scan to join: ", StringComparison.Ordinal)) + 1;
        Assert.Contains(lines, l => l.EndsWith($"web client: http://{address}:8080/app", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith("web client: http://127.0.0.1:8080/app   (this machine only)", StringComparison.Ordinal));
        Assert.EndsWith($"scan to join: http://{address}:8080/app", lines[first - 1], StringComparison.Ordinal);
        Assert.Equal($"http://{address}:8080/app", Decode(lines.Skip(first).TakeWhile(l => !l.StartsWith('[')).ToList()));

        // The neighbour on the LAN gets the page at the address the code holds.
        await using var neighbour = lan.Start(2, PeerProcess.Python, "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())", $"http://{address}:8080/app?name=Ana");
        Assert.Equal(0, await neighbour.WaitForExitAsync());
        Assert.Contains("new WebSocket(", neighbour.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_code_holds_the_address_a_phone_opens_best_ipv4_then_ipv6_then_link_local_then_loopback()
    {
        Uri[] pages =
        [
            new("http://127.0.0.1:8080/app"), new("http://[::1]:8080/app"), new("http://[fe80::1%252]:8080/app"),
            new("http://[2001:db8::5]:8080/app"), new("http://192.168.1.20:8080/app"),
        ];

        Assert.Equal(pages[4], ServeCommand.PageForPhones(pages));
        Assert.Equal(pages[3], ServeCommand.PageForPhones(pages[..4]));
        Assert.Equal(pages[2], ServeCommand.PageForPhones(pages[..3]));
        Assert.Equal(pages[0], ServeCommand.PageForPhones(pages[..2]));
        Assert.Null(ServeCommand.PageForPhones([]));
    }

    [Fact]
    public async Task Serve_web_draws_no_code_when_the_output_is_not_a_terminal()
    {
        var output = new LineWriter();
        using var stop = new CancellationTokenSource();
        var serving = Lws.RunAsync(["serve", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--web", "--duration", "60"],
            output, output, TextReader.Null, stop.Token);
        await output.WaitForLineAsync("press Ctrl+C to stop");

        Assert.Contains(output.Lines.Items, l => l.Contains("web client: http://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(output.Lines.Items, l => l.Contains("scan to join", StringComparison.Ordinal) || l.Contains('█'));
        await stop.CancelAsync();
        Assert.Equal(0, await serving.Within());
    }

    [Fact]
    public async Task Qr_without_web_is_a_usage_error()
    {
        var output = new LineWriter();

        var exitCode = await Lws.RunAsync(["serve", "--qr", "--no-mdns", "--port", "0", "--duration", "1"], output, output, TextReader.Null).Within();

        Assert.Equal(2, exitCode);
        Assert.Contains("--qr and --no-qr go with --web", output.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Long_lan_addresses_decode_in_colour_and_without(bool color)
    {
        // The longest page address a LAN gives: an IPv6 address with a zone, a five-digit port and a name.
        const string url = "http://[fe80::1234:5678:9abc:def0%25wlp0s20f3]:65535/app?name=Ana%20Mar%C3%ADa";

        var lines = TerminalQrCode.Render(url, color);

        Assert.All(lines, l => Assert.Equal(color, l.StartsWith("\e[30;107m", StringComparison.Ordinal)));
        Assert.Equal(url, Decode(lines));
    }

    /// <summary>Each character is two modules (upper, lower half); each module becomes 4x4 grey pixels.</summary>
    private static string Decode(IReadOnlyList<string> drawing)
    {
        const int scale = 4;
        var rows = drawing.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\e\\[[0-9;]*m", "")).ToList();
        var width = rows.Max(r => r.Length);
        var modules = new List<bool[]>();
        foreach (var row in rows)
        {
            var upper = new bool[width];
            var lower = new bool[width];
            for (var i = 0; i < row.Length; i++)
            {
                upper[i] = row[i] is '█' or '▀';
                lower[i] = row[i] is '█' or '▄';
            }

            modules.Add(upper);
            modules.Add(lower);
        }

        var pixels = new byte[width * scale * modules.Count * scale];
        for (var y = 0; y < modules.Count * scale; y++)
        {
            for (var x = 0; x < width * scale; x++)
            {
                pixels[(y * width * scale) + x] = modules[y / scale][x / scale] ? (byte)0 : (byte)255;
            }
        }

        var image = new ZXing.RGBLuminanceSource(pixels, width * scale, modules.Count * scale, ZXing.RGBLuminanceSource.BitmapFormat.Gray8);
        var result = new ZXing.QrCode.QRCodeReader().decode(new ZXing.BinaryBitmap(new ZXing.Common.HybridBinarizer(image)));
        Assert.NotNull(result);
        return result.Text;
    }
}
