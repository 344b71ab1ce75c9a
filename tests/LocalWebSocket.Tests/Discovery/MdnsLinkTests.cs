using System.Net;
using System.Text.RegularExpressions;
using LocalWebSocket.Client;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>
/// mDNS on real links of a namespace LAN: over IPv6 (ff02::fb) where hosts have link-local addresses only, and
/// across an address change of the advertising host.
/// </summary>
[Collection(MdnsCollection.Name)]
public sealed class MdnsLinkTests
{
    [NamespaceFact]
    public async Task On_a_link_with_only_IPv6_link_local_addresses_a_server_is_found_over_ff02_fb_and_joined_with_the_zone_in_its_url()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2, ipv6Only: true);
        await using var server = lan.StartLws(1, "serve", "--host", "::", "--port", "8080", "--detail", "name=Six", "--duration", "60");
        await server.WaitForLineContainingAsync("advertising \"Six\"");

        // Host 2 has no IPv4 at all: only mDNS over IPv6 can find host 1, at fe80::1 on host 2's own eth0.
        await using var scan = lan.StartLws(2, "scan", "--once", "--json");
        Assert.Equal(0, await scan.WaitForExitAsync());
        var found = Regex.Match(scan.Output, $$"""{"event":"added","url":"(ws://\[{{NamespaceLan.LinkLocal(1)}}%(\d+)\]:8080/ws)","details":{"name":"Six"},"source":"mdns",""");
        Assert.True(found.Success, scan.Output);
        Assert.Equal(await InterfaceIndexAsync(lan, 2), int.Parse(found.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

        // The URL as printed is one a client connects with.
        await using var client = lan.StartLwsWithInput(2, "connect", found.Groups[1].Value, "--json");
        await client.WaitForLineContainingAsync("\"state\":\"connected\"");
        await server.WaitForLineContainingAsync($"from [{NamespaceLan.LinkLocal(2)}%");
        await client.StandardInput.WriteLineAsync("over link-local");
        await client.StandardInput.FlushAsync();
        await server.WaitForLineContainingAsync("text \"over link-local\"");
    }

    [NamespaceFact]
    public async Task When_the_advertising_hosts_address_changes_browsers_get_a_goodbye_for_the_old_one_and_find_the_new_one()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);
        var before = NamespaceLan.Address(1);
        const string After = "198.18.0.101";

        // Every interface by default (eth0 here); 0.0.0.0 publishes IPv4 addresses only.
        await using var server = lan.StartLws(1, "serve", "--port", "8080", "--detail", "name=Mover", "--duration", "60");
        await server.WaitForLineContainingAsync("advertising \"Mover\"");

        // Host 2 watches; its scan probes only itself, where no server runs, so what it reports is mDNS's.
        var watcher = NamespaceLan.Address(2);
        await using var watch = lan.StartLws(2, "scan", watcher, "--interface", watcher, "--json", "--duration", "60");
        await watch.WaitForLineContainingAsync($"{{\"event\":\"added\",\"url\":\"ws://{before}:8080/ws\"");

        await lan.IpAsync(1, "addr", "del", before + "/24", "dev", "eth0");
        await lan.IpAsync(1, "addr", "add", After + "/24", "dev", "eth0");

        // The old address goes at once, by goodbye: its record's TTL (120 s) is far beyond the wait.
        await watch.WaitForLineContainingAsync($"{{\"event\":\"removed\",\"url\":\"ws://{before}:8080/ws\"");
        await watch.WaitForLineContainingAsync($"{{\"event\":\"added\",\"url\":\"ws://{After}:8080/ws\"");
    }

    /// <summary>A service on host <paramref name="host"/> with these address records.</summary>
    private static DnsMessage Service(string host, params string[] addresses) => new()
    {
        IsResponse = true,
        Answers = [new PtrRecord(MdnsAdvertiser.ServiceType, 4500, "Table." + MdnsAdvertiser.ServiceType)],
        Additionals =
        [
            new SrvRecord("Table." + MdnsAdvertiser.ServiceType, 120, true, 0, 0, 8080, host),
            .. addresses.Select(address => new AddressRecord(host, 120, true, IPAddress.Parse(address))),
        ],
    };

    [Fact]
    public void A_link_local_address_is_kept_with_the_receiving_interfaces_index_and_used_only_when_nothing_better_is_known()
    {
        var browser = new MdnsBrowser([IPAddress.Loopback]);

        browser.Store(Service("six.local.", "fe80::1"), scopeId: 7);
        var server = Assert.Single(browser.Resolve());
        Assert.Equal("ws://[fe80::1%7]:8080/ws", server.Url.OriginalString);
        Assert.Equal(7, server.Address.ScopeId);

        // A routable IPv6 address needs no zone; an IPv4 one is preferred to both, whatever the order they came in.
        browser.Store(Service("six.local.", "fd00::1"), scopeId: 7);
        Assert.Equal("ws://[fd00::1]:8080/ws", Assert.Single(browser.Resolve()).Url.OriginalString);
        browser.Store(Service("six.local.", "192.0.2.9"), scopeId: 7);
        Assert.Equal("ws://192.0.2.9:8080/ws", Assert.Single(browser.Resolve()).Url.OriginalString);
    }

    [Fact]
    public void A_url_with_a_zone_keeps_it_through_the_query_a_client_adds_and_a_switch_to_wss()
    {
        var request = ClientHandshake.BuildRequestUri(new Uri("ws://[fe80::1%7]:8080/ws"), new Dictionary<string, string> { ["name"] = "Ana" });
        Assert.Equal("fe80::1%7", request.IdnHost);
        Assert.Equal("?name=Ana", request.Query);

        var tls = new LocalWebSocket.Discovery.DiscoveredServer(
            new Uri("ws://[fe80::1%7]:8080/ws"), IPAddress.Parse("fe80::1%7"), 8080,
            System.Text.Json.JsonDocument.Parse("""{"tlsFingerprint":"AB"}""").RootElement, LocalWebSocket.Discovery.DiscoverySource.Mdns, TimeSpan.Zero);
        Assert.Equal("wss://[fe80::1%7]:8080/ws", tls.Url.OriginalString);
    }

    [Fact]
    public async Task A_server_listening_on_IPv6_loopback_is_advertised_at_that_address_and_no_other()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.Host = "::1";
            o.AdvertiseMdns = true;
            o.MdnsServiceName = "Loop six";
        });
        await using var browser = new MdnsBrowser([IPAddress.Loopback]);

        // A one-shot browse ends by itself a second after its last query.
        LocalWebSocket.Discovery.DiscoveredServer? found = null;
        await foreach (var round in browser.BrowseOnceAsync(TimeSpan.FromSeconds(1)))
        {
            found ??= round.Servers.FirstOrDefault(s => s.ServiceName == "Loop six");
        }

        Assert.NotNull(found);
        Assert.Equal(new Uri($"ws://[::1]:{server.Port}/ws"), found.Url);
        Assert.Equal(IPAddress.IPv6Loopback, found.Address);
    }

    /// <summary>The index of host <paramref name="host"/>'s eth0, as <c>ip -o link</c> prints it ("2: eth0@if3: ...").</summary>
    private static async Task<int> InterfaceIndexAsync(NamespaceLan lan, int host)
    {
        await using var ip = lan.Start(host, "ip", "-o", "link", "show", "dev", "eth0");
        Assert.Equal(0, await ip.WaitForExitAsync());
        return int.Parse(ip.Output[..ip.Output.IndexOf(':', StringComparison.Ordinal)].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
