using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Discovery;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Hosting;

/// <summary>A hub on Kestrel advertises Kestrel's endpoint over mDNS, as the own listener advertises its own.</summary>
[Collection(MdnsCollection.Name)]
public sealed class AspNetCoreDiscoveryTests
{
    [Fact]
    public async Task A_hub_on_kestrel_is_advertised_at_kestrels_port_and_found_by_an_mdns_browser()
    {
        await using var hub = await AspNetCoreHubHost.StartAsync(o =>
        {
            o.AdvertiseMdns = true;
            o.Details = new JsonObject { ["name"] = $"Kestrel room {Environment.ProcessId}" };
        });
        await using var browser = new MdnsBrowser([IPAddress.Loopback]);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();

        Assert.Null(hub.Server.AdvertisingError);
        for (var round = 0; round < 100; round++)
        {
            Assert.True(await rounds.MoveNextAsync().AsTask().Within());
            if (rounds.Current.Servers.FirstOrDefault(s => s.Port == hub.Port) is { } found)
            {
                Assert.Equal(hub.WebSocketUrl, found.Url);
                Assert.Equal($"Kestrel room {Environment.ProcessId}", found.Details.GetProperty("name").GetString());
                Assert.Equal(hub.Server.AdvertisedServiceName, found.ServiceName);
                return;
            }
        }

        Assert.Fail("The hub on Kestrel was not found over mDNS.");
    }
}
