using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Discovery;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>
/// Our mDNS against Python zeroconf, an independent implementation: on loopback with multicast pinned to
/// 127.0.0.1, and across two hosts of a namespace LAN that the test builds and removes.
/// </summary>
[Collection(MdnsCollection.Name)]
public sealed class ZeroconfTests
{
    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Zeroconf_resolves_our_servers_advertisement_on_loopback()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "for zeroconf", ["players"] = 3 };
        });

        var (exitCode, output, errors) = await PeerProcess.RunAsync(PeerProcess.Python, "zc_browse.py", "127.0.0.1", "10", Text(server.Port));

        Assert.True(exitCode == 0, output + errors);
        // Only the address the server listens on: 127.0.0.1, not the loopback interface's ::1, which it does not accept.
        Assert.Matches($@"FOUND {System.Text.RegularExpressions.Regex.Escape(server.AdvertisedServiceName!)}\._localws\._tcp\.local\. \['127\.0\.0\.1'\] {server.Port} ", output);
        Assert.Contains("'path': '/ws'", output, StringComparison.Ordinal);
        Assert.Contains("'name': 'for zeroconf'", output, StringComparison.Ordinal);
        Assert.Contains("'players': '3'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task We_find_a_zeroconf_registration_on_loopback_and_drop_it_on_its_goodbye()
    {
        // A name and port of this test's own: zeroconf refuses a name another responder already holds.
        var instance = "zeroconf-peer-" + Environment.ProcessId;
        var port = 20000 + (Environment.ProcessId % 20000);
        await using var browser = new MdnsBrowser([IPAddress.Loopback]);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();
        await using var peer = PeerProcess.Start(PeerProcess.Python, "zc_register.py", "127.0.0.1", Text(port), "3", instance);
        await peer.WaitForLineAsync("registered");

        var added = await UntilAsync(rounds, r => r.Added.Any(s => s.Port == port));
        var server = added.Added.Single(s => s.Port == port);
        Assert.Equal(new Uri($"ws://127.0.0.1:{port}/ws"), server.Url);
        Assert.Equal(instance, server.ServiceName);
        Assert.Equal("zeroconf peer", server.Details.GetProperty("name").GetString());

        await peer.WaitForLineAsync("unregistered");
        await UntilAsync(rounds, r => r.Removed.Any(s => s.Port == port));
    }

    [Fact]
    public async Task One_shot_finds_right_after_each_other_are_all_answered_by_zeroconf()
    {
        // Zeroconf multicasts a record at most once a second (RFC 6762 section 6): a browser asking from port
        // 5353 just after another would get nothing. A one-shot querier asks from its own port and is answered.
        var instance = "one-shot-" + Environment.ProcessId;
        var port = 25000 + (Environment.ProcessId % 20000);
        await using var peer = PeerProcess.Start(PeerProcess.Python, "zc_register.py", "127.0.0.1", Text(port), "60", instance);
        await peer.WaitForLineAsync("registered");
        var options = new DiscoveryOptions { UseScan = false };
        options.MdnsInterfaces.Add(IPAddress.Loopback);
        using var discovery = new ServerDiscovery(options);

        var passes = new List<IReadOnlyList<DiscoveredServer>>();
        for (var pass = 0; pass < 3; pass++)
        {
            passes.Add(await discovery.FindAsync().Within());
        }

        Assert.All(passes, found => Assert.Equal(instance, Assert.Single(found, s => s.Port == port).ServiceName));
    }

    [Fact]
    public async Task A_service_that_vanishes_without_a_goodbye_expires_by_its_ttl_on_the_browsers_clock()
    {
        var clock = new ManualTimeProvider();
        var instance = "vanishing-" + Environment.ProcessId;
        var port = 40000 + (Environment.ProcessId % 20000);
        await using var browser = new MdnsBrowser([IPAddress.Loopback], clock);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();

        // Browsing (the first snapshot: an empty cache) before the peer registers, so its announcements are heard:
        // the first query waits 20-120 ms on a clock that has not moved yet.
        Assert.True(await rounds.MoveNextAsync().AsTask().Within());
        var peer = PeerProcess.Start(PeerProcess.Python, "zc_register.py", "127.0.0.1", Text(port), "60", instance);
        await peer.WaitForLineAsync("registered");
        await UntilAsync(rounds, r => r.Added.Any(s => s.Port == port));

        // Killed: no goodbye. Its SRV and A records (TTL 120 s) must run out on the browser's clock.
        await peer.DisposeAsync();
        clock.Advance(TimeSpan.FromSeconds(121));

        await UntilAsync(rounds, r => r.Removed.Any(s => s.Port == port));
    }

    [NamespaceFact]
    public async Task Across_two_namespace_hosts_scan_and_mdns_find_our_server_and_zeroconf_in_both_directions()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);
        var serverHost = NamespaceLan.Address(1);
        var clientHost = NamespaceLan.Address(2);

        // Our server on host 1, advertising on its LAN address.
        await using var server = lan.StartLws(1, "serve", "--host", serverHost, "--port", "8080", "--interface", serverHost, "--detail", "name=ns server", "--duration", "40");
        await server.WaitForLineContainingAsync("advertising");

        // Host 2 finds it by scanning the subnet and by mDNS: one entry, both sources.
        await using (var scan = lan.StartLws(2, "scan", "198.18.0", "--port", "8080", "--interface", clientHost, "--once", "--json"))
        {
            Assert.Equal(0, await scan.WaitForExitAsync());
            Assert.Matches($$"""{"event":"(added|changed)","url":"ws://{{System.Text.RegularExpressions.Regex.Escape(serverHost)}}:8080/ws","details":{"name":"ns server"},"source":"scan,mdns",""", scan.Output);
        }

        // Zeroconf on host 2 resolves our advertisement from host 1: the IPv4 address it listens on, not host 1's
        // link-local fe80::1, which an IPv4 listener does not accept.
        await using (var browse = lan.Start(2, PeerProcess.Python, Path.Combine(PeerProcess.PeersDirectory, "zc_browse.py"), clientHost, "10", "8080"))
        {
            Assert.True(await browse.WaitForExitAsync() == 0, browse.Output + browse.Errors);
            Assert.Matches($@"FOUND ns server\._localws\._tcp\.local\. \['{System.Text.RegularExpressions.Regex.Escape(serverHost)}'\] 8080 ", browse.Output);
        }

        // Zeroconf on host 2 registers; our browser on host 1 finds it.
        await using var register = lan.Start(2, PeerProcess.Python, Path.Combine(PeerProcess.PeersDirectory, "zc_register.py"), clientHost, "9099", "15");
        await register.WaitForLineAsync("registered");
        await using var mdnsOnly = lan.StartLws(1, "scan", serverHost, "--port", "9099", "--interface", serverHost, "--once", "--json");
        Assert.Equal(0, await mdnsOnly.WaitForExitAsync());
        Assert.Contains($$"""{"event":"added","url":"ws://{{clientHost}}:9099/ws","details":{"name":"zeroconf peer"},"source":"mdns",""", mdnsOnly.Output, StringComparison.Ordinal);
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

        throw new TimeoutException("The expected mDNS round did not come.");
    }
}
