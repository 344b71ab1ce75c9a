using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>Scan and mDNS merged into one discovery; everything pinned to loopback.</summary>
[Collection(MdnsCollection.Name)]
public sealed class ServerDiscoveryTests
{
    private static DiscoveryOptions LoopbackOptions(int port, params string[] targets)
    {
        var options = new DiscoveryOptions { MdnsWait = TimeSpan.FromSeconds(2) };
        options.Scanner.Port = port;
        options.Scanner.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.Scanner.Interval = TimeSpan.FromMilliseconds(300);
        options.MdnsInterfaces.Add(IPAddress.Loopback);
        foreach (var target in targets)
        {
            options.ScanTargets.Add(ScanTarget.Parse(target));
        }

        return options;
    }

    [Fact]
    public async Task A_server_found_both_ways_is_listed_once_with_both_sources()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "Both Ways", ["room"] = "lobby" };
        });
        Assert.Null(server.AdvertisingError);
        using var discovery = new ServerDiscovery(LoopbackOptions(server.Port, "127.0.0.1"));

        var found = await discovery.FindAsync().Within();

        var entry = Assert.Single(found, s => s.Port == server.Port);
        Assert.Equal(server.WebSocketUrl, entry.Url);
        Assert.Equal(DiscoverySource.Scan | DiscoverySource.Mdns, entry.Source);
        Assert.Equal(server.AdvertisedServiceName, entry.ServiceName);
        Assert.Equal("lobby", entry.Details.GetProperty("room").GetString());
        Assert.True(entry.RoundTripTime > TimeSpan.Zero);
    }

    [Fact]
    public async Task Scan_finds_a_server_that_does_not_advertise_and_mdns_one_outside_the_scanned_range()
    {
        await using var plain = await TestServers.StartAsync(o => o.Host = "127.0.13.2");
        await using var advertised = await TestServers.StartAsync(o =>
        {
            o.Host = "127.0.0.1";
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "Advertised" };
        });
        using var discovery = new ServerDiscovery(LoopbackOptions(plain.Port, "127.0.13.2"));

        var found = await discovery.FindAsync().Within();

        Assert.Equal(DiscoverySource.Scan, found.Single(s => s.Url == plain.WebSocketUrl).Source);
        Assert.Equal(DiscoverySource.Mdns, found.Single(s => s.Url == advertised.WebSocketUrl).Source);
    }

    [Fact]
    public async Task Watching_sees_an_advertised_server_arrive_and_leave()
    {
        using var discovery = new ServerDiscovery(LoopbackOptions(18559, "127.0.14.1"));
        await using var rounds = discovery.WatchAsync().GetAsyncEnumerator();
        Assert.True(await rounds.MoveNextAsync().AsTask().Within());

        var server = await TestServers.StartAdvertisedAsync("Comes and goes");
        var url = server.WebSocketUrl;
        await UntilAsync(rounds, r => r.Added.Any(s => s.Url == url));
        await server.DisposeAsync();
        await UntilAsync(rounds, r => r.Removed.Any(s => s.Url == url));
    }

    [Fact]
    public async Task FindFirstAsync_returns_the_matching_server_without_waiting_for_the_pass_to_end()
    {
        await using var tableA = await TestServers.StartAdvertisedAsync("Table A");
        await using var tableB = await TestServers.StartAdvertisedAsync("Table B");

        // A host that accepts and never answers keeps the scan going for a minute, and mDNS would listen as long.
        await using var silent = new FakeHttpHost(IPAddress.Parse("127.0.16.1"), 0, response: null);
        var options = LoopbackOptions(silent.Port, "127.0.16.1");
        options.Scanner.ProbeTimeout = TimeSpan.FromMinutes(1);
        options.MdnsWait = TimeSpan.FromMinutes(1);
        options.MdnsAnswerWindow = TimeSpan.FromMinutes(1);
        using var discovery = new ServerDiscovery(options);

        var found = await discovery.FindFirstAsync(s => s.Details.TryGetProperty("name", out var name) && name.GetString() == "Table B").Within();

        Assert.NotNull(found);
        Assert.Equal(tableB.WebSocketUrl, found.Url);
        Assert.Equal(DiscoverySource.Mdns, found.Source);
    }

    [Fact]
    public async Task FindFirstAsync_returns_null_when_a_pass_ends_without_a_match()
    {
        await using var server = await TestServers.StartAdvertisedAsync("Not this one");
        var options = LoopbackOptions(server.Port, "127.0.0.1");
        options.MdnsAnswerWindow = TimeSpan.FromMilliseconds(200);
        using var discovery = new ServerDiscovery(options);
        var seen = new List<DiscoveredServer>();

        var found = await discovery.FindFirstAsync(s =>
        {
            seen.Add(s);
            return s.Details.TryGetProperty("name", out var name) && name.GetString() == "Wanted";
        }).Within();

        Assert.Null(found);
        Assert.Contains(seen, s => s.Url == server.WebSocketUrl);
    }

    [Fact]
    public async Task FindAsync_ends_when_the_scan_is_done_and_no_mdns_answer_is_expected_long_before_MdnsWait()
    {
        await using var server = await TestServers.StartAdvertisedAsync("Quick");
        var options = LoopbackOptions(server.Port, "127.0.0.1");
        options.MdnsWait = TimeSpan.FromMinutes(10);
        options.MdnsAnswerWindow = TimeSpan.FromMilliseconds(300);
        using var discovery = new ServerDiscovery(options);

        // Within() is 15 s: ending at all proves the pass did not wait its 10-minute cap.
        var found = await discovery.FindAsync().Within();

        Assert.Equal(DiscoverySource.Scan | DiscoverySource.Mdns, Assert.Single(found, s => s.Url == server.WebSocketUrl).Source);
    }

    [Fact]
    public async Task Watching_yields_a_server_the_moment_it_answers_not_when_the_scan_round_ends()
    {
        await using var server = await TestServers.StartAsync(o => o.Host = "127.0.17.1");
        await using var silent = new FakeHttpHost(IPAddress.Parse("127.0.17.2"), server.Port, response: null);
        var options = LoopbackOptions(server.Port, "127.0.17.1", "127.0.17.2");
        options.UseMdns = false;

        // The silent host holds the round open for a minute.
        options.Scanner.ProbeTimeout = TimeSpan.FromMinutes(1);
        using var discovery = new ServerDiscovery(options);
        await using var changes = discovery.WatchAsync().GetAsyncEnumerator();

        Assert.True(await changes.MoveNextAsync().AsTask().Within());

        Assert.Equal(server.WebSocketUrl, Assert.Single(changes.Current.Added).Url);
        Assert.Empty(changes.Current.Removed);
    }

    [Fact]
    public async Task Watching_reports_a_server_found_one_way_again_when_the_other_way_finds_it_too()
    {
        await using var server = await TestServers.StartAdvertisedAsync("Seen twice");
        using var discovery = new ServerDiscovery(LoopbackOptions(server.Port, "127.0.0.1"));
        await using var changes = discovery.WatchAsync().GetAsyncEnumerator();

        // Scan and mDNS answer in either order; whichever is second must be reported, not merged silently.
        var both = await UntilAsync(changes, c => c.Servers.Any(s => s.Url == server.WebSocketUrl && s.Source == (DiscoverySource.Scan | DiscoverySource.Mdns)));

        Assert.Contains(both.Added.Concat(both.Changed), s => s.Url == server.WebSocketUrl);
    }

    [Fact]
    public async Task Without_multicast_on_an_interface_the_server_runs_and_says_why_it_does_not_advertise()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.MdnsInterfaces.Add(IPAddress.Parse("192.0.2.123"));
        });

        Assert.True(server.IsRunning);
        Assert.NotNull(server.AdvertisingError);
        Assert.Contains("is not available on interface 192.0.2.123", server.AdvertisingError.Message, StringComparison.Ordinal);
        Assert.Null(server.AdvertisedServiceName);
    }

    [Fact]
    public async Task A_tls_server_publishes_its_fingerprint_in_the_document_and_the_txt_record()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Certificate = LocalWebSocket.Security.TlsCertificates.CreateSelfSigned("mdns-tls");
        });
        var scanOnly = LoopbackOptions(server.Port, "127.0.0.1");
        scanOnly.UseMdns = false;
        var mdnsOnly = LoopbackOptions(server.Port);
        mdnsOnly.UseScan = false;

        var scanned = Assert.Single(await new ServerDiscovery(scanOnly).FindAsync().Within());
        var advertised = Assert.Single(await new ServerDiscovery(mdnsOnly).FindAsync().Within(), s => s.Port == server.Port);

        Assert.Equal(server.WebSocketUrl, scanned.Url);
        Assert.Equal(server.WebSocketUrl, advertised.Url);
        Assert.Equal(server.CertificateFingerprint, scanned.CertificateFingerprint);
        Assert.Equal(server.CertificateFingerprint, advertised.CertificateFingerprint);
    }

    [Fact]
    public void Merge_keeps_one_entry_per_url_with_the_scans_details()
    {
        var url = new Uri("ws://10.0.0.5:8080/ws");
        var scanned = new DiscoveredServer(url, IPAddress.Parse("10.0.0.5"), 8080, System.Text.Json.JsonDocument.Parse("""{"a":1}""").RootElement, DiscoverySource.Scan, TimeSpan.FromMilliseconds(3));
        var advertised = new DiscoveredServer(url, IPAddress.Parse("10.0.0.5"), 8080, System.Text.Json.JsonDocument.Parse("""{"a":"1"}""").RootElement, DiscoverySource.Mdns, TimeSpan.Zero, "Room");

        var merged = Assert.Single(ServerDiscovery.Merge([scanned], [advertised]));

        Assert.Equal("""{"a":1}""", merged.DetailsJson);
        Assert.Equal(DiscoverySource.Scan | DiscoverySource.Mdns, merged.Source);
        Assert.Equal("Room", merged.ServiceName);
    }

    private static async Task<DiscoverySnapshot> UntilAsync(IAsyncEnumerator<DiscoverySnapshot> rounds, Func<DiscoverySnapshot, bool> condition)
    {
        for (var round = 0; round < 100; round++)
        {
            Assert.True(await rounds.MoveNextAsync().AsTask().Within());
            if (condition(rounds.Current))
            {
                return rounds.Current;
            }
        }

        throw new TimeoutException("The expected discovery round did not come.");
    }
}
