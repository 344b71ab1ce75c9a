using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>Our advertiser and browser, multicast pinned to the 127.0.0.1 interface (nothing leaves loopback).</summary>
[Collection(MdnsCollection.Name)]
public sealed class MdnsLoopbackTests
{
    private static readonly IPAddress[] Loopback = [IPAddress.Loopback];

    /// <summary>Advertised port numbers of this test process's own, so parallel test runs never see each other's services.</summary>
    private static readonly int BasePort = 30000 + (Environment.ProcessId % 10000) * 3;

    private static async Task<DiscoverySnapshot> NextAsync(IAsyncEnumerator<DiscoverySnapshot> rounds, Func<DiscoverySnapshot, bool> condition)
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

    [Fact]
    public async Task Browser_sees_an_advertised_server_its_details_changes_and_its_goodbye()
    {
        var advertiser = new MdnsAdvertiser("Game Room", BasePort, "/ws", new JsonObject { ["name"] = "Game Room", ["players"] = 2, ["nested"] = new JsonObject() });
        await advertiser.StartAsync(Loopback, CancellationToken.None);
        await using var browser = new MdnsBrowser(Loopback);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();

        var found = await NextAsync(rounds, s => s.Servers.Any(server => server.Port == BasePort));
        var server = found.Servers.Single(s => s.Port == BasePort);
        Assert.Equal(new Uri($"ws://127.0.0.1:{BasePort}/ws"), server.Url);
        Assert.Equal(DiscoverySource.Mdns, server.Source);
        Assert.Equal("Game Room", server.Details.GetProperty("name").GetString());
        Assert.Equal("2", server.Details.GetProperty("players").GetString());
        Assert.False(server.Details.TryGetProperty("nested", out _));
        Assert.Equal("Game Room", advertiser.InstanceName);
        Assert.Equal(advertiser.InstanceName, server.ServiceName);

        await advertiser.UpdateDetailsAsync(new JsonObject { ["name"] = "Game Room", ["players"] = 3 }, CancellationToken.None);
        var changed = await NextAsync(rounds, s => s.Changed.Count > 0);
        Assert.Equal("3", changed.Changed.Single().Details.GetProperty("players").GetString());

        await advertiser.DisposeAsync();
        var gone = await NextAsync(rounds, s => s.Removed.Count > 0);
        Assert.Equal(BasePort, gone.Removed.Single().Port);
    }

    [Fact]
    public async Task A_browser_started_after_the_first_announcement_still_finds_the_service()
    {
        await using var advertiser = new MdnsAdvertiser("Late", BasePort + 1, "/ws", new JsonObject());
        await advertiser.StartAsync(Loopback, CancellationToken.None);
        await using var browser = new MdnsBrowser(Loopback);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();

        var found = await NextAsync(rounds, s => s.Servers.Any(server => server.Port == (BasePort + 1)));

        Assert.Equal($"ws://127.0.0.1:{BasePort + 1}/ws", found.Servers.Single(s => s.Port == (BasePort + 1)).Url.ToString());
    }

    [Fact]
    public async Task A_one_shot_browse_asks_at_once_and_ends_one_answer_window_after_its_last_query()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "One shot" };
        });
        var clock = new ManualTimeProvider();
        var window = TimeSpan.FromMilliseconds(500);
        await using var browser = new MdnsBrowser(Loopback, clock);
        await using var snapshots = browser.BrowseOnceAsync(window).GetAsyncEnumerator();

        // A one-shot querier (RFC 6762 section 5.1) asks without the continuous querier's random delay: the
        // server is found while the browser's clock has not moved (in the first snapshot, or in one after it
        // when the answer comes after browsing has looked at its empty cache).
        var found = await NextAsync(snapshots, s => s.Added.Any(added => added.Port == server.Port));

        // No answer is expected once the window after that query has passed; no further query is due before it.
        clock.Advance(window);
        var ended = false;
        for (var more = 0; more < 100 && !ended; more++)
        {
            ended = !await snapshots.MoveNextAsync().AsTask().Within();
        }

        Assert.Equal(server.WebSocketUrl, found.Added.Single(s => s.Port == server.Port).Url);
        Assert.True(ended);
    }

    [Fact]
    public async Task A_watch_sends_its_first_query_after_the_rfc_random_delay()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "Watched" };
        });
        var clock = new ManualTimeProvider();
        await using var browser = new MdnsBrowser(Loopback, clock);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();

        // A continuous querier waits 20-120 ms before its first query (RFC 6762 section 5.2): the query loop's
        // first timer is that wait (the cache's expiry check comes a second later).
        Assert.True(await rounds.MoveNextAsync().AsTask().Within());
        await clock.TimerCreated.WaitUntilAsync(due => due.Count > 0);
        var firstDelay = clock.TimerCreated.Items[0];
        clock.Advance(TimeSpan.FromMilliseconds(120));
        var found = await NextAsync(rounds, s => s.Added.Any(added => added.Port == server.Port));

        Assert.InRange(firstDelay, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(120));
        Assert.Equal(server.WebSocketUrl, found.Added.Single(s => s.Port == server.Port).Url);
    }

    [Fact]
    public async Task Hostile_packets_on_the_mdns_port_are_ignored()
    {
        await using var advertiser = new MdnsAdvertiser("Sturdy", BasePort + 2, "/ws", new JsonObject());
        await advertiser.StartAsync(Loopback, CancellationToken.None);
        using (var attacker = new System.Net.Sockets.UdpClient())
        {
            attacker.Client.SetSocketOption(System.Net.Sockets.SocketOptionLevel.IP, System.Net.Sockets.SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
            var random = new Random(5);
            for (var i = 0; i < 200; i++)
            {
                var junk = new byte[random.Next(0, 300)];
                random.NextBytes(junk);
                await attacker.SendAsync(junk, new IPEndPoint(MdnsTransport.Group, MdnsTransport.Port));
            }

            byte[] loop = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 12, 0, 1];
            await attacker.SendAsync(loop, new IPEndPoint(MdnsTransport.Group, MdnsTransport.Port));
        }

        await using var browser = new MdnsBrowser(Loopback);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();
        var found = await NextAsync(rounds, s => s.Servers.Any(server => server.Port == (BasePort + 2)));

        Assert.Contains(found.Servers, s => s.Port == (BasePort + 2));
    }

    [Fact]
    public void Txt_keeps_scalar_details_within_dns_limits_name_first_and_says_what_it_left_out_and_why()
    {
        var details = new JsonObject
        {
            ["max"] = 4, ["open"] = true, ["list"] = new JsonArray(1), ["a=b"] = "x", ["clé"] = "y",
            ["long"] = new string('x', 300), ["name"] = "Room", ["NAME"] = "shadow",
        };
        for (var i = 0; i < 100; i++)
        {
            details[$"k{i}"] = new string('v', 40);
        }

        var txt = MdnsAdvertiser.BuildTxt("/ws", details);

        Assert.Equal(["path=/ws", "v=1", "name=Room", "max=4", "open=true"], txt.Entries.Take(5));
        Assert.True(txt.Entries.Sum(e => System.Text.Encoding.UTF8.GetByteCount(e) + 1) <= 1300);
        Assert.Equal(
            ["'list' (it is not a string, number or boolean)", "'a=b' (its key is not printable ASCII without '=')",
             "'clé' (its key is not printable ASCII without '=')", "'long' (the entry is 305 bytes, more than 255)",
             "'NAME' (its key is already used (TXT keys ignore case))"],
            txt.LeftOut.Take(5));
        var budget = txt.LeftOut.Skip(5).ToList();
        Assert.NotEmpty(budget);
        Assert.All(budget, why => Assert.EndsWith("(the record would pass 1300 bytes)", why, StringComparison.Ordinal));
        Assert.Equal(100, txt.Entries.Count(e => e.StartsWith('k')) + budget.Count);
    }

    [Fact]
    public async Task A_server_whose_details_do_not_fit_the_txt_record_advertises_the_rest_and_says_what_it_left_out()
    {
        await using var server = await TestServers.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = "Big", ["notes"] = new string('n', 400) };
        });

        Assert.NotNull(server.AdvertisedServiceName);
        var error = Assert.IsType<LocalWebSocketException>(server.AdvertisingError);
        Assert.Equal(LocalWebSocketErrorCode.DetailsNotAdvertised, error.Code);
        Assert.Contains("'notes' (the entry is 406 bytes, more than 255)", error.Message, StringComparison.Ordinal);

        // Details that fit again clear it; the browser sees what is advertised.
        server.UpdateDetails(d => d.Remove("notes"));
        await using var browser = new MdnsBrowser(Loopback);
        await using var snapshots = browser.WatchAsync().GetAsyncEnumerator();
        var found = await NextAsync(snapshots, s => s.Servers.Any(found => found.Port == server.Port && !found.Details.TryGetProperty("notes", out _)));
        Assert.Null(server.AdvertisingError);
        Assert.Equal("Big", found.Servers.Single(s => s.Port == server.Port).Details.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Known_answers_that_follow_a_tc_query_in_another_packet_suppress_the_answer()
    {
        var name = "Held " + Environment.ProcessId;
        await using var advertiser = new MdnsAdvertiser(name, BasePort + 3, "/ws", new JsonObject());
        await advertiser.StartAsync(Loopback, CancellationToken.None);
        using var querier = new LegacyQuerier();

        // RFC 6762 section 7.2: the first packet asks and says more known answers follow (TC); the second holds
        // our pointer. The advertiser must wait for it, see that the querier knows us, and stay silent.
        var question = new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr);
        await querier.SendAsync(new DnsMessage { Id = 1, Truncated = true, Questions = [question], Answers = [new PtrRecord(MdnsAdvertiser.ServiceType, 4500, "Someone else." + MdnsAdvertiser.ServiceType)] });
        await querier.SendAsync(new DnsMessage { Id = 1, Answers = [new PtrRecord(MdnsAdvertiser.ServiceType, 4500, advertiser.InstanceFqdn)] });
        await querier.SendAsync(new DnsMessage { Id = 3, Questions = [question] });

        // Packets from one sender are handled in order: had the first query been answered, its answer (id 1)
        // would come before the third's.
        var first = await querier.ReceiveAboutAsync(advertiser.InstanceFqdn).Within();
        Assert.Equal(3, first.Id);
    }

    [Fact]
    public async Task A_tc_query_is_answered_after_400_to_500_ms_when_no_more_known_answers_come()
    {
        var clock = new ManualTimeProvider();
        var name = "Waited " + Environment.ProcessId;
        await using var advertiser = new MdnsAdvertiser(name, BasePort + 4, "/ws", new JsonObject(), timeProvider: clock);
        var starting = advertiser.StartAsync(Loopback, CancellationToken.None);

        // Probing on the fake clock: the first wait, then three probes 250 ms apart.
        for (var timer = 1; timer <= 4; timer++)
        {
            await clock.TimerCreated.WaitUntilAsync(due => due.Count >= timer);
            clock.Advance(clock.TimerCreated.Items[timer - 1]);
        }

        await starting.Within();
        using var querier = new LegacyQuerier();
        var timersBefore = clock.TimerCreated.Items.Count;
        await querier.SendAsync(new DnsMessage { Id = 1, Truncated = true, Questions = [new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)] });

        await clock.TimerCreated.WaitUntilAsync(due => due.Skip(timersBefore).Any(d => d >= TimeSpan.FromMilliseconds(400) && d <= TimeSpan.FromMilliseconds(500)));
        clock.Advance(TimeSpan.FromMilliseconds(500));
        var answer = await querier.ReceiveAboutAsync(advertiser.InstanceFqdn).Within();

        Assert.Equal(1, answer.Id);
        Assert.Contains(answer.Answers, r => r is PtrRecord ptr && ptr.Target == advertiser.InstanceFqdn);
    }

    /// <summary>A one-shot querier on loopback (its own port, so answers come back to it by unicast).</summary>
    private sealed class LegacyQuerier : IDisposable
    {
        private readonly System.Net.Sockets.Socket _socket = new(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);

        public LegacyQuerier()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.IP, System.Net.Sockets.SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
        }

        public async Task SendAsync(DnsMessage query) =>
            await _socket.SendToAsync(query.Encode(), new IPEndPoint(MdnsTransport.Group, MdnsTransport.Port));

        /// <summary>The next response that names <paramref name="fqdn"/> (other responders on loopback may answer too).</summary>
        public async Task<DnsMessage> ReceiveAboutAsync(string fqdn)
        {
            var buffer = new byte[DnsMessage.MaxPacketSize];
            for (var packet = 0; packet < 1000; packet++)
            {
                var received = await _socket.ReceiveAsync(buffer);
                if (DnsMessage.TryParse(buffer.AsSpan(0, received), out var message)
                    && message.AllRecords.Any(r => r.Name == fqdn || (r is PtrRecord ptr && ptr.Target == fqdn)))
                {
                    return message;
                }
            }

            throw new InvalidOperationException("No response about " + fqdn + " in 1000 packets.");
        }

        public void Dispose() => _socket.Dispose();
    }
}

/// <summary>mDNS tests share UDP port 5353; running them one at a time keeps each test's traffic its own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MdnsCollection
{
    public const string Name = "mDNS";

    /// <summary>A 5353 socket on the loopback interface over IPv4, as a responder or a rival on this machine has.</summary>
    internal static MdnsTransport OpenLoopback() => MdnsTransport.Open(MdnsLink.For([IPAddress.Loopback])[0], System.Net.Sockets.AddressFamily.InterNetwork);
}
