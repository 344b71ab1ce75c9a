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
        var answer = Advertiser.Answer(Query(new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)), Lan, legacy: false)!;

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
        Assert.IsType<SrvRecord>(Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.InstanceFqdn, DnsType.Srv)), Lan, false)!.Answers));
        Assert.IsType<TxtRecord>(Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.InstanceFqdn, DnsType.Txt)), Lan, false)!.Answers));
        Assert.Equal(Lan, ((AddressRecord)Assert.Single(Advertiser.Answer(Query(new DnsQuestion(Advertiser.HostName, DnsType.A)), Lan, false)!.Answers)).Address);
        var services = Advertiser.Answer(Query(new DnsQuestion("_services._dns-sd._udp.local.", DnsType.Ptr)), Lan, false)!;
        Assert.Equal(MdnsAdvertiser.ServiceType, ((PtrRecord)Assert.Single(services.Answers)).Target);

        Assert.Null(Advertiser.Answer(Query(new DnsQuestion("_http._tcp.local.", DnsType.Ptr)), Lan, false));
        Assert.Null(Advertiser.Answer(Query(new DnsQuestion("other.local.", DnsType.A)), Lan, false));
    }

    [Fact]
    public void A_legacy_one_shot_query_gets_its_id_and_questions_back_with_short_ttls()
    {
        var query = new DnsMessage { Id = 4242, Questions = [new DnsQuestion(MdnsAdvertiser.ServiceType, DnsType.Ptr)] };

        var answer = Advertiser.Answer(query, Lan, legacy: true)!;

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

        Assert.Null(Advertiser.Answer(query, Lan, false));
        Assert.NotNull(Advertiser.Answer(stale, Lan, false));
    }
}
