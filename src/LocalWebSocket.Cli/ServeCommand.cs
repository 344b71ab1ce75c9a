using System.Text.Json.Nodes;
using LocalWebSocket.Security;
using LocalWebSocket.Server;

namespace LocalWebSocket.Cli;

/// <summary><c>lws serve</c>: a server that logs what happens until it is stopped.</summary>
internal static class ServeCommand
{
    public static readonly CommandSpec Spec = new(
        "serve",
        "",
        "Runs a server and logs joins, messages and leaves until Ctrl+C.",
        """
        GET / answers the details document, WebSockets are accepted at /ws, and each message goes to every
        other client (broadcast mode) or to every client (--echo). The server advertises itself over mDNS
        (_localws._tcp) so that 'lws scan' and apps find it without typing an address.
        """,
        [
            new("--host", "ADDR", "Address to listen on (default 0.0.0.0: every IPv4 interface, reachable from the LAN;\n:: adds IPv6, link-local too; 127.0.0.1 is this machine only)."),
            new("--port", "N", "TCP port (default 8080, as Dart servers; 0 picks a free one)."),
            new("--echo", null, "Echo mode: a message goes to every client, the sender too (default: broadcast)."),
            new("--deflate", null, "Accept permessage-deflate compression from clients that offer it (browsers and\nDart clients do); costs memory per connection. Default: uncompressed."),
            new("--detail", "KEY=VALUE", "A field of the details document at GET / (repeatable)."),
            new("--token", "T", "Require ?token=T from clients (repeatable: any of them passes)."),
            new("--tls", null, "Serve wss:// with a self-signed certificate kept in your data folder;\nprints its fingerprint for clients to pin."),
            new("--cert", "FILE", "Serve wss:// with this certificate (PFX, or PEM with its key)."),
            new("--cert-password", "P", "The password of --cert."),
            new("--max-clients", "N", "Refuse clients beyond N (closed with 1008)."),
            new("--rate", "N/s", "Drop each client's messages beyond N per second."),
            new("--max-connections", "N", "Connections at once, handshakes included (default 10,000; more get 503)."),
            new("--max-per-ip", "N", "Connections at once from one network address (default 256; more get 429)."),
            new("--handshakes-per-ip", "N", "New connections per second from one network address (default 100, bursts of 200;\nmore get 429)."),
            new("--limit-loopback", null, "Count this machine's own connections against the two limits above too\n(by default loopback is not limited: load tests, bots, conformance suites)."),
            new("--web", null, "Serve the web client at /app: any browser on the LAN joins with a display name\n(/app?name=Ana presets it); prints the page's address for each LAN address and, on a\nterminal, a QR code of it for phone cameras (with --token, the address carries the first token)."),
            new("--qr", null, "With --web, draw the QR code even when the output is not a terminal."),
            new("--no-qr", null, "With --web, do not draw the QR code."),
            new("--no-mdns", null, "Do not advertise over mDNS."),
            new("--interface", "IF", "Advertise over mDNS (IPv4 and IPv6) on this interface, by address or name (eth0)\n(repeatable; default: the listen address's, or every LAN interface)."),
            new("--keep-alive", "SECONDS", "Ping each idle client every SECONDS (default 30; 0 turns pings off)."),
            new("--keep-alive-timeout", "SECONDS", "Drop a client whose pong has not come SECONDS after a ping: a peer that vanished\nwithout closing (default 30)."),
            new("--duration", "SECONDS", "Stop after SECONDS (default: run until Ctrl+C)."),
            new("--quiet", null, "Log only the start and the final counts: no line per join, message or leave."),
        ]);

    public static async Task<int> RunAsync(CommandLine line, CliContext context)
    {
        line.NoPositional();
        var options = new LocalWebSocketServerOptions
        {
            Port = line.Int("--port", LocalWebSocketServerOptions.DefaultPort, 0, 65535),
            Routing = line.Has("--echo") ? RoutingMode.Echo : RoutingMode.Broadcast,
        };
        try
        {
            options.Host = line.Last("--host") ?? options.Host;
        }
        catch (ArgumentException exception)
        {
            throw line.Error($"--host: {exception.Message.TrimEnd('.')}");
        }

        var details = new JsonObject();
        foreach (var (key, value) in line.Pairs("--detail"))
        {
            details[key] = value;
        }

        options.Details = details;
        options.AdvertiseMdns = !line.Has("--no-mdns");
        if (line.Has("--deflate"))
        {
            options.DangerousDeflateOptions = new System.Net.WebSockets.WebSocketDeflateOptions();
        }

        line.Interfaces("--interface").ForEach(options.MdnsInterfaces.Add);
        if (line.Has("--web"))
        {
            options.WebClientPath = "/app";
        }
        else if (line.Has("--qr") || line.Has("--no-qr"))
        {
            throw line.Error("--qr and --no-qr go with --web: the QR code is the web client's address");
        }

        var tokens = line.All("--token");
        if (tokens.Count > 0)
        {
            options.RequestAuthenticator = new QueryTokenAuthenticator(tokens);
        }

        options.MaxConnections = line.Int("--max-connections", options.MaxConnections, 1, 1_000_000);
        options.MaxConnectionsPerIp = line.Int("--max-per-ip", options.MaxConnectionsPerIp, 1, 1_000_000);
        options.HandshakesPerSecondPerIp = line.Int("--handshakes-per-ip", options.HandshakesPerSecondPerIp, 1, 1_000_000);
        options.PerIpLimitsApplyToLoopback = line.Has("--limit-loopback");
        if (line.Last("--max-clients") is not null)
        {
            options.ClientValidator = new MaxClientsValidator(line.Int("--max-clients", 0, 1, 1_000_000));
        }

        if (line.Last("--rate") is { } rate)
        {
            options.MessageValidator = new RateLimitValidator(ParseRate(line, rate), TimeSpan.FromSeconds(1));
        }

        options.KeepAliveInterval = line.Seconds("--keep-alive", options.KeepAliveInterval, 86_400, zeroAllowed: true);
        options.KeepAliveTimeout = line.Seconds("--keep-alive-timeout", options.KeepAliveTimeout, 86_400, zeroAllowed: false);
        options.Certificate = LoadCertificate(line);
        var duration = line.Int("--duration", 0, 0, int.MaxValue / 1000);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.Stop);
        if (duration > 0)
        {
            lifetime.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        // Event handlers run on the connections' receive loops: the transcript queues their lines for a
        // thread of its own, so a console that does not keep up never holds up a connection.
        await using var log = new Transcript(context.Output, context.Color);
        await using var server = new LocalWebSocketServer(options);
        if (!line.Has("--quiet"))
        {
            // Counted here, not read from server.Clients: clients joining at once would each read the same count.
            // The lock keeps the lines in the order of the counts they show.
            var connected = 0;
            var countGate = new Lock();
            server.ClientConnected += (_, e) =>
            {
                lock (countGate)
                {
                    log.Line("server", $"+ {e.Client.Id} from {e.Client.RemoteEndPoint} {Transcript.Describe(e.Client.Details)} ({++connected} connected)");
                }
            };
            server.ClientDisconnected += (_, e) =>
            {
                lock (countGate)
                {
                    log.Line("server", $"- {e.Client.Id} left with {Transcript.DescribeClose(e.CloseStatus, e.CloseDescription)} ({--connected} connected)");
                }
            };
            server.MessageReceived += (_, e) => log.Line("server", $"< {e.Client.Id}: {Transcript.Describe(e.Message)}");
        }

        await server.StartAsync(context.Stop);
        log.Report("server", $"listening on {server.LocalEndPoint} in {options.Routing.ToString().ToLowerInvariant()} mode");
        var pages = new List<Uri>();
        foreach (var url in server.WebSocketUrls)
        {
            var local = IsLoopback(url);
            log.Report("server", $"connect to {url}{(local ? "   (this machine only)" : "")}");
            if (options.WebClientPath is { } page)
            {
                // With --token, the page's address carries the first one: the page passes it on, so whoever opens
                // the link (or scans the QR code) gets in, and nobody else.
                var web = new UriBuilder(url)
                {
                    Scheme = url.Scheme == "wss" ? "https" : "http",
                    Path = page,
                    Query = tokens.Count > 0 ? "token=" + Uri.EscapeDataString(tokens[0]) : "",
                }.Uri;
                log.Report("server", $"web client: {CommandLine.UrlText(web)}{(local ? "   (this machine only)" : "")}");
                pages.Add(web);
            }
        }

        if (PageForPhones(pages) is { } pageForPhones && !line.Has("--no-qr") && (context.OutputIsTerminal || line.Has("--qr")))
        {
            log.Report("server", $"scan to join: {CommandLine.UrlText(pageForPhones)}");
            foreach (var row in TerminalQrCode.Render(CommandLine.UrlText(pageForPhones), context.Color))
            {
                log.Verbatim(row);
            }
        }

        log.Report("server", $"details document: {server.Address}");
        if (server.CertificateFingerprint is { } fingerprint)
        {
            log.Report("server", $"TLS certificate SHA-256: {fingerprint}");
            log.Report("server", $"clients pin it: lws connect {server.WebSocketUrl} --pin {fingerprint}");
        }

        if (server.AdvertisedServiceName is { } service)
        {
            log.Report("server", $"advertising \"{service}\" over mDNS (_localws._tcp)");
            if (server.AdvertisingError is { Code: LocalWebSocketErrorCode.DetailsNotAdvertised } leftOut)
            {
                log.Report("server", $"warning: {leftOut.Message}");
            }
        }
        else if (server.AdvertisingError is { } error)
        {
            log.Report("server", $"not advertising over mDNS: {error.Message}");
        }

        log.Report("server", "press Ctrl+C to stop");

        await Task.Delay(Timeout.Infinite, lifetime.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await server.StopAsync(CancellationToken.None);
        var stats = server.GetStatistics();
        log.Report("server", $"stopped: {stats.ClientsJoined} clients joined, {stats.MessagesReceived} messages received, {stats.MessagesSent} sent, "
            + $"{stats.MessagesDropped} dropped, {stats.SlowClientsDisconnected} slow clients closed");
        return 0;
    }

    /// <summary>
    /// The page address for the QR code: a phone can only use a LAN address, and an IPv4 one best (a link-local
    /// IPv6 address needs a zone that is this machine's, not the phone's); loopback only when there is no other.
    /// </summary>
    internal static Uri? PageForPhones(IEnumerable<Uri> pages) => pages.OrderBy(PhoneRank).FirstOrDefault();

    /// <summary>How well a phone on the LAN can open the address: 0 IPv4, 1 IPv6, 2 IPv6 link-local, 3 loopback.</summary>
    private static int PhoneRank(Uri url) =>
        !System.Net.IPAddress.TryParse(url.Host.Trim('[', ']').Split('%')[0], out var address) ? 1
        : System.Net.IPAddress.IsLoopback(address) ? 3
        : address.IsIPv6LinkLocal ? 2
        : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1;

    private static bool IsLoopback(Uri url) =>
        System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address);

    /// <summary>--cert FILE (PFX or PEM), or --tls: a self-signed certificate kept in the user's data folder.</summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2? LoadCertificate(CommandLine line)
    {
        if (line.Last("--cert") is { } path)
        {
            try
            {
                return TlsCertificates.Load(path, line.Last("--cert-password"));
            }
            catch (Exception exception) when (exception is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
            {
                throw line.Error($"--cert: cannot load '{path}': {exception.Message.TrimEnd('.')}");
            }
        }

        if (!line.Has("--tls"))
        {
            return null;
        }

        var folder = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        return TlsCertificates.LoadOrCreateSelfSigned(Path.Combine(folder, "lws", "server.pfx"));
    }

    /// <summary>"20/s" or "20": messages per second per client.</summary>
    private static int ParseRate(CommandLine line, string text)
    {
        var number = text.EndsWith("/s", StringComparison.Ordinal) ? text[..^2] : text;
        return int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rate) && rate > 0
            ? rate
            : throw line.Error($"--rate takes messages per second, e.g. 20/s, not '{text}'");
    }
}
