using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Security;

/// <summary>wss:// without a certificate authority: self-signed certificates, published fingerprints, pinning.</summary>
public sealed class TlsTests
{
    private static readonly X509Certificate2 Certificate = TlsCertificates.CreateSelfSigned("lws-tests");

    private static Task<LocalWebSocketServer> StartSecureAsync(Action<LocalWebSocketServerOptions>? configure = null) =>
        TestServers.StartAsync(o =>
        {
            o.Certificate = Certificate;
            o.Routing = RoutingMode.Echo;
            o.Details = new JsonObject { ["name"] = "secure" };
            configure?.Invoke(o);
        });

    private static LocalWebSocketClientOptions Pinned(string? fingerprint) => new()
    {
        PinnedCertificateFingerprint = fingerprint,
        ReconnectPolicy = ReconnectPolicy.Constant(TimeSpan.FromMilliseconds(20)),
    };

    [Fact]
    public async Task A_pinned_client_talks_over_wss_and_a_wrong_or_missing_pin_is_refused_without_retrying()
    {
        await using var server = await StartSecureAsync();
        Assert.Equal("wss", server.WebSocketUrl.Scheme);
        await using var pinned = new LocalWebSocketClient(Pinned(server.CertificateFingerprint!.ToUpperInvariant()));
        var echoed = new Probe<string>();
        pinned.MessageReceived += (_, m) => echoed.Add(m.Text);
        await pinned.ConnectAsync(server.WebSocketUrl).Within();
        await pinned.SendAsync("over tls");
        Assert.Equal(["over tls"], await echoed.WaitForCountAsync(1));

        await using var wrong = new LocalWebSocketClient(Pinned(new string('a', 64)));
        var mismatch = await Assert.ThrowsAsync<LocalWebSocketException>(() => wrong.ConnectAsync(server.WebSocketUrl));
        await using var unpinned = new LocalWebSocketClient(Pinned(null));
        var untrusted = await Assert.ThrowsAsync<LocalWebSocketException>(() => unpinned.ConnectAsync(server.WebSocketUrl));

        Assert.Equal(LocalWebSocketErrorCode.CertificateRejected, mismatch.Code);
        Assert.Contains(server.CertificateFingerprint!, mismatch.Message, StringComparison.Ordinal);
        Assert.Equal(LocalWebSocketErrorCode.CertificateRejected, untrusted.Code);
        Assert.Contains("pin its fingerprint", untrusted.Message, StringComparison.Ordinal);
        Assert.Single(server.Clients);
    }

    [Fact]
    public async Task A_pin_mismatch_during_reconnection_stops_it()
    {
        await using var server = await StartSecureAsync();
        var url = server.WebSocketUrl;
        await using var client = new LocalWebSocketClient(Pinned(server.CertificateFingerprint));
        var states = new Probe<ConnectionStateChangedEventArgs>();
        client.StateChanged += (_, e) => states.Add(e);
        await client.ConnectAsync(url).Within();

        await server.DisposeAsync();
        await using var impostor = await TestServers.StartAsync(o =>
        {
            o.Port = url.Port;
            o.Certificate = TlsCertificates.CreateSelfSigned("impostor");
        });

        await states.WaitUntilAsync(s => s[^1].State == ConnectionState.Disconnected);
        Assert.Equal(LocalWebSocketErrorCode.CertificateRejected, states.Items[^1].Error!.Code);
        Assert.Empty(impostor.Clients);
    }

    [Fact]
    public async Task Plain_http_still_answers_the_details_with_the_fingerprint_but_never_a_plain_websocket()
    {
        await using var server = await StartSecureAsync();

        var details = await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var plainUpgrade = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());

        Assert.EndsWith($$"""{"name":"secure","tlsFingerprint":"{{server.CertificateFingerprint}}"}""", details, StringComparison.Ordinal);
        Assert.Contains("Server: local-websocket/1.0.0", details, StringComparison.Ordinal);
        Assert.Equal(403, RawConnection.StatusOf(plainUpgrade));
        Assert.Equal("secure", server.Details["name"]!.GetValue<string>());
        Assert.False(server.Details.ContainsKey("tlsFingerprint"));
    }

    [Fact]
    public async Task The_scanner_finds_a_tls_server_and_its_fingerprint_lets_a_client_connect()
    {
        await using var server = await StartSecureAsync(o => o.Host = "127.0.17.2");
        using var scanner = new ServerScanner(new ScannerOptions { Port = server.Port });

        var found = Assert.Single(await scanner.ScanOnceAsync(ScanTarget.Parse("127.0.17.2")).Within());
        await using var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { PinnedCertificateFingerprint = found.CertificateFingerprint });
        await client.ConnectAsync(found.Url).Within();

        Assert.Equal(new Uri($"wss://127.0.17.2:{server.Port}/ws"), found.Url);
        Assert.Equal(server.CertificateFingerprint, found.CertificateFingerprint);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_stalled_tls_handshake_times_out_and_is_counted()
    {
        await using var server = await StartSecureAsync(o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(300));
        await using var stalled = await RawConnection.OpenAsync(server.Port);

        // The first bytes of a TLS record header, then silence.
        await stalled.SendAsync([0x16, 0x03, 0x01]);
        var rest = await stalled.ReadToEndAsync();

        Assert.Equal("", rest);
        Assert.Equal(1, server.GetStatistics().TlsHandshakeFailures);
    }

    [Fact]
    public void A_self_signed_certificate_is_kept_and_loaded_again_and_pem_files_load_too()
    {
        var folder = Directory.CreateTempSubdirectory("lws-tls-");
        try
        {
            var path = Path.Combine(folder.FullName, "nested", "server.pfx");
            using var first = TlsCertificates.LoadOrCreateSelfSigned(path, "kiosk");
            using var again = TlsCertificates.LoadOrCreateSelfSigned(path);
            Assert.Equal(TlsCertificates.Fingerprint(first), TlsCertificates.Fingerprint(again));
            Assert.True(again.HasPrivateKey);
            Assert.Contains("127.0.0.1", first.GetNameInfo(X509NameType.DnsName, false) + string.Join(",", first.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateIPAddresses())), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }

            var pem = Path.Combine(folder.FullName, "server.pem");
            File.WriteAllText(pem, first.ExportCertificatePem() + "\n" + first.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            using var fromPem = TlsCertificates.Load(pem);
            Assert.Equal(TlsCertificates.Fingerprint(first), TlsCertificates.Fingerprint(fromPem));
            Assert.True(fromPem.HasPrivateKey);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Fingerprints_are_normalised_and_checked()
    {
        var hex = new string('A', 64);
        Assert.Equal(new string('a', 64), TlsCertificates.NormalizeFingerprint(string.Join(':', hex.Chunk(2).Select(c => new string(c)))));
        Assert.Throws<FormatException>(() => TlsCertificates.NormalizeFingerprint("abc"));
        Assert.Throws<ArgumentException>(() => new LocalWebSocketClientOptions { PinnedCertificateFingerprint = "not-a-fingerprint" });
    }

    [Fact]
    public async Task Python_websockets_connects_over_wss_when_given_our_certificate()
    {
        await using var server = await StartSecureAsync();
        var ca = Path.Combine(Path.GetTempPath(), $"lws-ca-{Environment.ProcessId}-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(ca, Certificate.ExportCertificatePem());
        try
        {
            var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "py_wss_client.py", server.WebSocketUrl.ToString(), ca);

            Assert.True(exitCode == 0, output + errors);
            Assert.Contains("OK wss", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(ca);
        }
    }

    [Theory]
    [InlineData("", 401)]
    [InlineData("?token=wrong", 403)]
    public async Task Python_websockets_with_a_missing_or_wrong_token_is_refused_with_401_or_403(string query, int status)
    {
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = new QueryTokenAuthenticator(["right"]));

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "py_refused_client.py", server.WebSocketUrl + query);

        Assert.True(exitCode == 0, output + errors);
        Assert.Contains($"STATUS {status}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tls_server_serves_its_routes_over_tls_only_and_its_details_over_plain_http_too()
    {
        await using var server = await StartSecureAsync(o => o.Routes.MapGet("/app", (_, _) => ValueTask.FromResult(HttpRouteResponse.Text("page"))));
        using var pinned = new HttpClient(new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented is not null && TlsCertificates.Fingerprint(presented) == server.CertificateFingerprint,
        });

        var plainRoute = await RawConnection.ExchangeAsync(server.Port, "GET /app HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var plainDetails = await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        var secureRoute = await pinned.GetStringAsync($"https://127.0.0.1:{server.Port}/app").WaitAsync(TestServers.Timeout);

        Assert.Equal(403, RawConnection.StatusOf(plainRoute));
        Assert.Contains("use https://", plainRoute, StringComparison.Ordinal);
        Assert.Equal(200, RawConnection.StatusOf(plainDetails));
        Assert.Equal("page", secureRoute);
    }
}
