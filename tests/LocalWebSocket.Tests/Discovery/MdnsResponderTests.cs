using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery.Mdns;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>What the advertiser answers, computed without sockets.</summary>
public sealed class MdnsResponderTests
{
    private static readonly MdnsAdvertiser Advertiser = new("Room", 8080, "/ws", new JsonObject { ["name"] = "Room" });
    private static readonly IPAddress Lan = IPAddress.Parse("192.168.1.20");

    private static DnsMessage Query(params DnsQuestion[] questions) => new() { Questions = [.. questions] };

    [Fact]
    public void A_service_query_gets_the_pointer_with_srv_txt_and_address_as_additionals()
    {
        var answer = Advertiser.Answer(Query(new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)), [Lan], legacy: false)!;

        var ptr = Assert.IsType<PtrRecord>(Assert.Single(answer.Answers));
        Assert.Equal(Advertiser.InstanceFqdn, ptr.Target);
        Assert.Contains(answer.Additionals, r => r is SrvRecord { Port: 8080 } srv && srv.Target == Advertiser.HostName);
        Assert.Contains(answer.Additionals, r => r is TxtRecord txt && txt.Entries.Contains("path=/ws"));
        Assert.Contains(answer.Additionals, r => r is AddressRecord a && a.Address.Equals(Lan));
        Assert.Equal(0, answer.Id);
        Assert.Empty(answer.Questions);
    }

    [Fact]
    public void Instance_host_and_enumeration_queries_are_answered_and_others_ignored()
    {
        Assert.IsType<SrvRecord>(Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.InstanceFqdn, DnsType.Srv)), [Lan], false)!.Answers));
        Assert.IsType<TxtRecord>(Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.InstanceFqdn, DnsType.Txt)), [Lan], false)!.Answers));
        Assert.Equal(Lan, ((AddressRecord)Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.HostName, DnsType.A)), [Lan], false)!.Answers)).Address);
        var services = Advertiser.Answer(Query(new DnsQuestion("_services._dns-sd._udp.local.", DnsType.Ptr)), [Lan], false)!;
        Assert.Equal(MdnsAdvertiser.ServiceType, ((PtrRecord)Assert.Single(services.Answers)).Target);

        Assert.Null(Advertiser.Answer(Query(new DnsQuestion("_http._tcp.local.", DnsType.Ptr)), [Lan], false));
        Assert.Null(Advertiser.Answer(Query(new DnsQuestion("other.local.", DnsType.A)), [Lan], false));
    }

    [Fact]
    public void A_legacy_one_shot_query_gets_its_id_and_questions_back_with_short_ttls()
    {
        var query = new DnsMessage { Id = 4242, Questions = [new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)] };

        var answer = Advertiser.Answer(query, [Lan], legacy: true)!;

        Assert.Equal(4242, answer.Id);
        Assert.Equal(query.Questions, answer.Questions);
        Assert.All(answer.AllRecords, r => Assert.True(r.Ttl <= 10));
    }

    [Fact]
    public void A_querier_that_already_knows_the_pointer_is_not_told_again()
    {
        var query = Query(new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr));
        query.Answers.Add(new PtrRecord(MdnsAdvertiser.ServiceType, 4000, Advertiser.InstanceFqdn));
        var stale = Query(new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr));
        stale.Answers.Add(new PtrRecord(MdnsAdvertiser.ServiceType, 100, Advertiser.InstanceFqdn));

        Assert.Null(Advertiser.Answer(query, [Lan], false));
        Assert.NotNull(Advertiser.Answer(stale, [Lan], false));
    }

    [Fact]
    public void A_legacy_response_carries_no_cache_flush_bit_and_a_multicast_one_does()
    {
        var query = new DnsMessage { Id = 7, Questions = [new DnsQuestion(Advertiser.InstanceFqdn, DnsType.Any)] };

        var legacy = Advertiser.Answer(query, [Lan], legacy: true)!;
        var multicast = Advertiser.Answer(query, [Lan], legacy: false)!;

        // RFC 6762 section 10.2: the bit would mean nothing to a plain DNS resolver, and must not be sent to one.
        Assert.NotEmpty(legacy.AllRecords);
        Assert.All(legacy.AllRecords, r => Assert.False(r.CacheFlush));
        Assert.All(multicast.AllRecords, r => Assert.True(r.CacheFlush));
    }

    [Fact]
    public void The_instance_name_is_the_servers_own_and_the_host_name_the_machines_with_lws_after_it()
    {
        var advertiser = new MdnsAdvertiser("Kiosk. Hall 2", 8080, "/ws", new JsonObject());

        Assert.Equal("Kiosk  Hall 2", advertiser.InstanceName);
        Assert.Equal(MdnsAdvertiser.HostLabel(Environment.MachineName) + ".local.", advertiser.HostName);
        Assert.Equal("front-desk-pc-lws", MdnsAdvertiser.HostLabel("Front_Desk.PC"));
        Assert.Equal("localwebsocket-lws", MdnsAdvertiser.HostLabel("___"));
        Assert.Equal("LocalWebSocket", new MdnsAdvertiser(" . ", 1, "/ws", new JsonObject()).InstanceName);
    }

    [Fact]
    public void A_long_name_is_cut_at_50_bytes_without_splitting_a_character_so_a_rename_still_fits_a_label()
    {
        var advertiser = new MdnsAdvertiser(string.Concat(Enumerable.Repeat("🎲", 30)), 8080, "/ws", new JsonObject());

        Assert.True(System.Text.Encoding.UTF8.GetByteCount(advertiser.InstanceName) <= 50);
        Assert.Equal(string.Concat(Enumerable.Repeat("🎲", 12)), advertiser.InstanceName);
    }

    [Fact]
    public void Probing_ties_are_broken_by_comparing_the_proposed_records_as_bytes()
    {
        SrvRecord Srv(ushort port) => new(Advertiser.InstanceFqdn, 120, true, 0, 0, port, "h.local.");
        var txt = new TxtRecord(Advertiser.InstanceFqdn, 4500, true, ["path=/ws"]);

        // RFC 6762 section 8.2: sorted by type (TXT 16 before SRV 33), then data; the later set wins.
        Assert.True(MdnsAdvertiser.CompareProposals([Srv(8080), txt], [txt, Srv(8081)]) < 0);
        Assert.True(MdnsAdvertiser.CompareProposals([Srv(9000), txt], [txt, Srv(8081)]) > 0);

        // TTL and the cache-flush bit are not data: the same records are our own probe heard back.
        Assert.Equal(0, MdnsAdvertiser.CompareProposals([Srv(8080), txt], [txt.WithTtl(1), Srv(8080) with { CacheFlush = false }]));

        // Equal as far as both go: more records is later.
        Assert.True(MdnsAdvertiser.CompareProposals([txt], [Srv(8080), txt]) < 0);
    }

    [Fact]
    public void Only_other_data_for_our_names_is_a_conflict_not_our_own_records_or_goodbyes()
    {
        var advertiser = new MdnsAdvertiser("Room", 8080, "/ws", new JsonObject());
        DnsMessage Response(params DnsRecord[] records) => new() { IsResponse = true, Answers = [.. records] };
        var ours = new SrvRecord(advertiser.InstanceFqdn, 120, true, 0, 0, 8080, advertiser.HostName);

        advertiser.ReportConflicts(Response(ours));
        advertiser.ReportConflicts(Response(ours with { Port = 9090, Ttl = 0 }));
        advertiser.ReportConflicts(Response(new TxtRecord(advertiser.InstanceFqdn, 4500, true, ["other=details"])));
        advertiser.ReportConflicts(Response(new SrvRecord("Other._localws._tcp.local.", 120, true, 0, 0, 9090, "x.local.")));
        Assert.Equal(0, advertiser.PendingNameEvents);

        advertiser.ReportConflicts(Response(ours with { Port = 9090 }));
        advertiser.ReportConflicts(Response(new AddressRecord(advertiser.HostName, 120, true, IPAddress.Parse("192.0.2.77"))));
        Assert.Equal(2, advertiser.PendingNameEvents);
    }
}
