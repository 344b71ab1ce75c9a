using System.Text.Json.Nodes;
using LocalWebSocket.Security;
using LocalWebSocket.Server;

namespace LocalWebSocket.Cli;

/// <summary><c>lws serve</c>: a server that logs what happens until it is stopped.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken stop)
    {
        var line = CommandLine.Parse(
            args,
            ["--host", "--port", "--detail", "--token", "--duration", "--interface", "--cert", "--cert-password", "--max-clients", "--rate",
             "--max-connections", "--max-per-ip", "--handshakes-per-ip"],
            ["--echo", "--no-mdns", "--tls", "--quiet"]);
        if (line.Positional.Count > 0)
        {
            throw new UsageException($"serve takes no argument '{line.Positional[0]}'.");
        }

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
            throw new UsageException($"--host: {exception.Message}");
        }

        var details = new JsonObject();
        foreach (var (key, value) in line.Pairs("--detail"))
        {
            details[key] = value;
        }

        options.Details = details;
        options.AdvertiseMdns = !line.Has("--no-mdns");
        foreach (var text in line.All("--interface"))
        {
            if (!System.Net.IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new UsageException($"--interface takes an IPv4 address of this machine, not '{text}'.");
            }

            options.MdnsInterfaces.Add(address);
        }
        if (line.All("--token") is { Count: > 0 } tokens)
        {
            options.RequestAuthenticator = new QueryTokenAuthenticator(tokens);
        }

        options.MaxConnections = line.Int("--max-connections", options.MaxConnections, 1, 1_000_000);
        options.MaxConnectionsPerIp = line.Int("--max-per-ip", options.MaxConnectionsPerIp, 1, 1_000_000);
        options.HandshakesPerSecondPerIp = line.Int("--handshakes-per-ip", options.HandshakesPerSecondPerIp, 1, 1_000_000);
        if (line.Last("--max-clients") is not null)
        {
            options.ClientValidator = new MaxClientsValidator(line.Int("--max-clients", 0, 1, 1_000_000));
        }

        if (line.Last("--rate") is { } rate)
        {
            options.MessageValidator = new RateLimitValidator(ParseRate(rate), TimeSpan.FromSeconds(1));
        }

        options.Certificate = LoadCertificate(line);
        var duration = line.Int("--duration", 0, 0, int.MaxValue / 1000);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(stop);
        if (duration > 0)
        {
            lifetime.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        var log = new Transcript(output);
        await using var server = new LocalWebSocketServer(options);
        if (!line.Has("--quiet"))
        {
            // A line per event is a formatted, flushed write: --quiet leaves them out under load (benchmarks).
            server.ClientConnected += (_, e) =>
                log.Line("server", $"+ {e.Client.Id} from {e.Client.RemoteEndPoint} {Transcript.Describe(e.Client.Details)} ({server.Clients.Count} connected)");
            server.ClientDisconnected += (_, e) =>
                log.Line("server", $"- {e.Client.Id} left ({(e.CloseStatus is { } status ? $"{(int)status} {e.CloseDescription}" : "no close frame")})");
            server.MessageReceived += (_, e) => log.Line("server", $"< {e.Client.Id}: {Transcript.Describe(e.Message)}");
        }

        await server.StartAsync(stop);
        log.Line("server", $"listening on {server.LocalEndPoint} in {options.Routing.ToString().ToLowerInvariant()} mode");
        log.Line("server", $"WebSocket: {server.WebSocketUrl}   details: {server.Address}");
        if (server.CertificateFingerprint is { } fingerprint)
        {
            log.Line("server", $"TLS certificate SHA-256: {fingerprint}");
            log.Line("server", $"clients pin it: lws connect {server.WebSocketUrl} --pin {fingerprint}");
        }
        if (server.AdvertisedServiceName is { } service)
        {
            log.Line("server", $"advertising \"{service}\" over mDNS (_localws._tcp)");
        }
        else if (server.AdvertisingError is { } error)
        {
            log.Line("server", $"not advertising over mDNS: {error.Message}");
        }

        log.Line("server", "press Ctrl+C to stop");

        await Task.Delay(Timeout.Infinite, lifetime.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await server.StopAsync(CancellationToken.None);
        var stats = server.GetStatistics();
        log.Line("server", $"stopped: {stats.ClientsJoined} clients joined, {stats.MessagesReceived} messages received, {stats.MessagesSent} sent, "
            + $"{stats.MessagesDropped} dropped, {stats.SlowClientsDisconnected} slow clients closed");
        return 0;
    }

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
                throw new UsageException($"--cert: cannot load '{path}': {exception.Message}");
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
    private static int ParseRate(string text)
    {
        var number = text.EndsWith("/s", StringComparison.Ordinal) ? text[..^2] : text;
        return int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rate) && rate > 0
            ? rate
            : throw new UsageException($"--rate takes messages per second, e.g. 20/s, not '{text}'.");
    }
}
