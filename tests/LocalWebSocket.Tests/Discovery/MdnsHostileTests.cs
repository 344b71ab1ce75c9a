using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>
/// Adversarial but well-formed mDNS traffic (malformed packets are <see cref="DnsMessageTests"/>'): floods of
/// valid records at the browser and oversized queries at the advertiser. Anyone on the link can send them, so
/// memory stays bounded and both keep working. Multicast pinned to 127.0.0.1.
/// </summary>
[Collection(MdnsCollection.Name)]
public sealed class MdnsHostileTests
{
    private const string FloodType = "_floodtest._tcp.local.";
    private const int InstancesPerPacket = 80;
    private static readonly IPAddress[] Loopback = [IPAddress.Loopback];

    /// <summary>A response announcing <paramref name="count"/> complete services (PTR, SRV, TXT, A) from <paramref name="first"/> on.</summary>
    private static DnsMessage Announcement(int first, int count, string serviceType = FloodType, int? port = null)
    {
        var message = new DnsMessage { IsResponse = true };
        for (var i = first; i < first + count; i++)
        {
            var instance = $"i{i}.{serviceType}";
            message.Answers.Add(new PtrRecord(serviceType, 4500, instance));
            message.Additionals.Add(new SrvRecord(instance, 120, true, 0, 0, (ushort)(port ?? (2000 + i)), $"h{i}.local."));
            message.Additionals.Add(new TxtRecord(instance, 4500, true, ["path=/ws", "v=1"]));
            message.Additionals.Add(new AddressRecord($"h{i}.local.", 120, true, IPAddress.Loopback));
        }

        return message;
    }

    [Fact]
    public void A_flood_of_valid_services_keeps_the_browser_cache_within_its_bound()
    {
        var browser = new MdnsBrowser(Loopback, serviceType: FloodType);

        for (var first = 0; first < 20_000; first += InstancesPerPacket)
        {
            browser.Store(Announcement(first, InstancesPerPacket));
            Assert.InRange(browser.CachedRecordCount, 1, MdnsBrowser.MaxCachedRecords);
        }

        Assert.Equal(MdnsBrowser.MaxCachedRecords, browser.CachedRecordCount);
    }

    [Fact]
    public void Records_that_are_not_about_our_service_type_are_not_kept()
    {
        var browser = new MdnsBrowser(Loopback, serviceType: FloodType);
        var junk = Announcement(0, 50, "_other._tcp.local.");
        junk.Answers.Add(new AddressRecord("nobody.local.", 120, true, IPAddress.Loopback));
        junk.Answers.Add(new PtrRecord(FloodType, 4500, "not-an-instance.elsewhere.local."));
        junk.Answers.Add(new OtherRecord("i1." + FloodType, DnsType.Nsec, 120, true));

        Assert.False(browser.Store(junk));
        Assert.Equal(0, browser.CachedRecordCount);

        // Address records count once an SRV of ours names their host, in the same message or before it.
        Assert.True(browser.Store(Announcement(7, 1)));
        Assert.Equal(4, browser.CachedRecordCount);
        Assert.True(browser.Store(new DnsMessage { IsResponse = true, Answers = [new AddressRecord("h7.local.", 120, false, IPAddress.Parse("127.0.0.2"))] }));
        Assert.Equal(5, browser.CachedRecordCount);
    }

    [Fact]
    public void A_query_with_more_known_answers_than_a_packet_holds_is_split_with_tc_and_bounded()
    {
        var questions = Enumerable.Range(0, 3000).Select(i => new DnsQuestion($"{new string('q', 50)}{i}.{FloodType}", DnsType.Srv)).ToList();
        questions.Insert(0, new DnsQuestion(FloodType, DnsType.Ptr));
        var known = Announcement(0, 3000).Answers;

        var packets = MdnsBrowser.SplitQuery(questions, known);

        // RFC 6762 section 7.2: questions (as many as fit) in the first packet, the known answers in it and
        // the next ones, TC on every packet but the last; never more than MaxQueryPackets, each unfragmented.
        Assert.Equal(MdnsBrowser.MaxQueryPackets, packets.Count);
        Assert.Equal(new DnsQuestion(FloodType, DnsType.Ptr), packets[0].Questions[0]);
        Assert.All(packets.Skip(1), p => Assert.Empty(p.Questions));
        Assert.All(packets.SkipLast(1), p => Assert.True(p.Truncated));
        Assert.False(packets[^1].Truncated);
        Assert.All(packets, p =>
        {
            Assert.True(p.TryEncode(out var bytes));
            Assert.InRange(bytes.Length, MdnsBrowser.QueryPacketBudget / 2, MdnsBrowser.QueryPacketBudget);
            Assert.True(DnsMessage.TryParse(bytes, out var parsed) && parsed.Truncated == p.Truncated);
        });
        Assert.Equal(known.Take(packets.Sum(p => p.Answers.Count)), packets.SelectMany(p => p.Answers));
        Assert.True(packets.Skip(1).Sum(p => p.Answers.Count) > 0);
    }

    [Fact]
    public void Known_answers_that_fit_one_packet_go_in_one_packet_without_tc()
    {
        var known = Announcement(0, 3).Answers;

        var packet = Assert.Single(MdnsBrowser.SplitQuery([new DnsQuestion(FloodType, DnsType.Ptr)], known));

        Assert.False(packet.Truncated);
        Assert.Equal(known, packet.Answers);
    }

    [Fact]
    public void A_legacy_query_stuffed_with_questions_gets_a_response_that_fits()
    {
        var advertiser = new MdnsAdvertiser("Room", 8080, "/ws", new JsonObject());
        var query = StuffedLegacyQuery();
        Assert.True(query.TryEncode(out _));

        var answer = advertiser.Answer(query, [IPAddress.Loopback], legacy: true)!;

        Assert.True(answer.TryEncode(out _));
        var echoed = Assert.Single(answer.Questions);
        Assert.Equal(DnsType.Ptr, echoed.Type);
        Assert.Equal(MdnsAdvertiser.ServiceType.TrimEnd('.'), echoed.Name.TrimEnd('.'), ignoreCase: true);
        Assert.Contains(answer.Answers, r => r is PtrRecord ptr && ptr.Target == advertiser.InstanceFqdn);
    }

    /// <summary>A one-shot query of nearly a full packet: others' questions, ours in many spellings, then ours.</summary>
    private static DnsMessage StuffedLegacyQuery()
    {
        var query = new DnsMessage { Id = 77 };
        for (var i = 0; i < 130; i++)
        {
            query.Questions.Add(new DnsQuestion($"{new string('x', 55)}{i:D3}.local.", DnsType.A));
        }

        query.Questions.Add(new DnsQuestion("_LOCALWS._tcp.local.", DnsType.Ptr));
        query.Questions.Add(new DnsQuestion("_localws._TCP.local", DnsType.Ptr));
        query.Questions.Add(new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr));
        return query;
    }

    [Fact]
    public async Task The_advertiser_still_answers_after_a_query_whose_echo_would_not_fit_a_packet()
    {
        await using var advertiser = new MdnsAdvertiser("Stuffed", 65001, "/ws", new JsonObject());
        await advertiser.StartAsync(Loopback, CancellationToken.None);
        using var querier = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        querier.Client.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
        var group = new IPEndPoint(MdnsTransport.Group, MdnsTransport.Port);

        var warm = new DnsMessage { Id = 76, Questions = [new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)] };
        await querier.SendAsync(warm.Encode(), group);
        await ReceiveAnswerAsync(querier, 76, advertiser.InstanceFqdn);

        await querier.SendAsync(StuffedLegacyQuery().Encode(), group);
        var first = await ReceiveAnswerAsync(querier, 77, advertiser.InstanceFqdn);
        Assert.Single(first.Questions);

        var plain = new DnsMessage { Id = 78, Questions = [new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)] };
        await querier.SendAsync(plain.Encode(), group);
        var second = await ReceiveAnswerAsync(querier, 78, advertiser.InstanceFqdn);
        Assert.Contains(second.AllRecords, r => r is SrvRecord { Port: 65001 });
    }

    private static async Task<DnsMessage> ReceiveAnswerAsync(UdpClient querier, ushort id, string instance)
    {
        for (var i = 0; i < 100; i++)
        {
            var received = await querier.ReceiveAsync().WaitAsync(TestServers.Timeout);
            if (DnsMessage.TryParse(received.Buffer, out var message) && message.IsResponse && message.Id == id
                && message.Answers.Any(r => r is PtrRecord ptr && string.Equals(ptr.Target.TrimEnd('.'), instance.TrimEnd('.'), StringComparison.OrdinalIgnoreCase)))
            {
                return message;
            }
        }

        throw new TimeoutException($"No answer to query {id}.");
    }

    [Fact]
    public async Task A_browser_flooded_over_the_network_stays_bounded_and_still_finds_a_service_by_asking()
    {
        await using var browser = new MdnsBrowser(Loopback, serviceType: FloodType);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();
        Assert.True(await rounds.MoveNextAsync().AsTask().WaitAsync(TestServers.Timeout));

        using (var attacker = new UdpClient())
        {
            attacker.Client.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
            var group = new IPEndPoint(MdnsTransport.Group, MdnsTransport.Port);
            for (var first = 0; first < 20_000; first += InstancesPerPacket)
            {
                var before = browser.ResponsesReceived;
                await attacker.SendAsync(Announcement(first, InstancesPerPacket).Encode(), group);

                // One packet in flight at a time: a socket buffer overrun would only make the flood smaller.
                await TestServers.UntilAsync(() => browser.ResponsesReceived > before, "the browser read the flood packet");
            }
        }

        Assert.Equal(MdnsBrowser.MaxCachedRecords, browser.CachedRecordCount);

        // A responder that only answers questions: the browser finds it only if its queries still go out,
        // with a known-answer list of a thousand pointers cut to one packet.
        using var responder = MdnsCollection.OpenLoopback();
        using var stop = new CancellationTokenSource();
        var answering = AnswerQueriesAsync(responder, stop.Token);
        try
        {
            for (var round = 0; round < 1000; round++)
            {
                Assert.True(await rounds.MoveNextAsync().AsTask().WaitAsync(TestServers.Timeout));
                if (rounds.Current.Servers.Any(s => s.Port == 65002))
                {
                    break;
                }
            }

            var quiet = Assert.Single(rounds.Current.Servers, s => s.Port == 65002);
            Assert.Equal(new Uri("ws://127.0.0.1:65002/ws"), quiet.Url);
            Assert.Equal(MdnsBrowser.MaxCachedRecords, browser.CachedRecordCount);
        }
        finally
        {
            await stop.CancelAsync();
            await answering.WaitAsync(TestServers.Timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
    }

    private static async Task AnswerQueriesAsync(MdnsTransport responder, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessage.MaxPacketSize];
        while (!cancellationToken.IsCancellationRequested)
        {
            var (message, _) = await responder.ReceiveAsync(buffer, cancellationToken);
            if (!message.IsResponse && message.Questions.Any(q => q.Type == DnsType.Ptr && q.Name.Equals(FloodType, StringComparison.OrdinalIgnoreCase)))
            {
                await responder.SendAsync(Announcement(-1, 1, port: 65002), null, cancellationToken);
            }
        }
    }
}
