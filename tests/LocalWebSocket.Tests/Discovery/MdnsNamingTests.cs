using System.Net;
using System.Text.Json.Nodes;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>
/// Names claimed as RFC 6762 sections 8 and 9 say: probing, renaming on conflict ("Name (2)"), tie-breaks
/// between simultaneous probes, and conflicts heard after the name was announced. Loopback only.
/// </summary>
[Collection(MdnsCollection.Name)]
public sealed class MdnsNamingTests
{
    private static readonly IPAddress[] Loopback = [IPAddress.Loopback];

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Watches until the servers on <paramref name="ports"/> are all listed; returns their service names by port.</summary>
    private static async Task<Dictionary<int, string?>> ServiceNamesAsync(params int[] ports)
    {
        await using var browser = new MdnsBrowser(Loopback);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();
        for (var round = 0; round < 100; round++)
        {
            Assert.True(await rounds.MoveNextAsync().AsTask().Within());
            var servers = rounds.Current.Servers.Where(s => ports.Contains(s.Port)).ToList();
            if (servers.Count == ports.Length)
            {
                return servers.ToDictionary(s => s.Port, s => s.ServiceName);
            }
        }

        throw new InvalidOperationException("The servers were not all found in 100 snapshots.");
    }

    [Fact]
    public async Task A_second_and_third_server_with_the_same_name_are_renamed_as_bonjour_does()
    {
        var name = "Kitchen " + Environment.ProcessId;
        await using var first = await TestServers.StartAdvertisedAsync(name);
        await using var second = await TestServers.StartAdvertisedAsync(name);
        await using var third = await TestServers.StartAdvertisedAsync(name);

        Assert.Equal(name, first.AdvertisedServiceName);
        Assert.Equal(name + " (2)", second.AdvertisedServiceName);
        Assert.Equal(name + " (3)", third.AdvertisedServiceName);
        var seen = await ServiceNamesAsync(first.Port, second.Port, third.Port);
        Assert.Equal(name, seen[first.Port]);
        Assert.Equal(name + " (2)", seen[second.Port]);
        Assert.Equal(name + " (3)", seen[third.Port]);
        Assert.Null(second.AdvertisingError);
    }

    [Fact]
    public async Task A_name_that_is_already_a_rename_goes_on_from_its_number()
    {
        var name = "Hall " + Environment.ProcessId;
        await using var first = await TestServers.StartAdvertisedAsync(name + " (2)");
        await using var second = await TestServers.StartAdvertisedAsync(name + " (2)");

        Assert.Equal(name + " (2)", first.AdvertisedServiceName);
        Assert.Equal(name + " (3)", second.AdvertisedServiceName);
    }

    [Fact]
    public async Task Two_servers_probing_for_one_name_at_once_break_the_tie_and_end_with_two_names()
    {
        var name = "Garden " + Environment.ProcessId;
        var starting = new[] { TestServers.StartAdvertisedAsync(name), TestServers.StartAdvertisedAsync(name) };
        var servers = await Task.WhenAll(starting).Within();
        try
        {
            Assert.Equal(new[] { name, name + " (2)" }, servers.Select(s => s.AdvertisedServiceName).Order(StringComparer.Ordinal));
            var seen = await ServiceNamesAsync(servers[0].Port, servers[1].Port);
            Assert.Equal(servers[0].AdvertisedServiceName, seen[servers[0].Port]);
            Assert.Equal(servers[1].AdvertisedServiceName, seen[servers[1].Port]);
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Probes_go_out_three_times_250_ms_apart_before_the_announcement_on_the_advertisers_clock()
    {
        var clock = new ManualTimeProvider();
        var name = "Probed " + Environment.ProcessId;
        await using var sniffer = new Sniffer(name);
        await using var advertiser = new MdnsAdvertiser(name, 40001, "/ws", new JsonObject(), timeProvider: clock);
        var starting = advertiser.StartAsync(Loopback, CancellationToken.None);

        // The first probe waits a random 0-250 ms (RFC 6762 section 8.1), then one probe per 250 ms.
        await clock.TimerCreated.WaitUntilAsync(due => due.Count >= 1);
        var firstWait = clock.TimerCreated.Items[0];
        clock.Advance(firstWait);
        for (var probe = 1; probe <= 3; probe++)
        {
            var sent = await sniffer.Packets.WaitForCountAsync(probe).Within();
            var message = sent[probe - 1];
            Assert.False(message.IsResponse);
            Assert.Contains(message.Questions, q => q.Name == advertiser.InstanceFqdn && q.Type == DnsType.Any);
            Assert.Contains(message.Questions, q => q.Name == advertiser.HostName && q.Type == DnsType.Any);
            Assert.Contains(message.Authorities, r => r is SrvRecord { Port: 40001 });
            Assert.False(starting.IsCompleted);
            await clock.TimerCreated.WaitUntilAsync(due => due.Count >= probe + 1);
            Assert.Equal(TimeSpan.FromMilliseconds(250), clock.TimerCreated.Items[probe]);
            clock.Advance(TimeSpan.FromMilliseconds(250));
        }

        await starting.Within();
        var announcement = (await sniffer.Packets.WaitForCountAsync(4).Within())[3];
        Assert.InRange(firstWait, TimeSpan.Zero, TimeSpan.FromMilliseconds(250));
        Assert.True(announcement.IsResponse);

        // Section 8.3: unique records carry the cache-flush bit, the shared PTR does not.
        Assert.All(announcement.Answers, r => Assert.Equal(r is not PtrRecord, r.CacheFlush));
        Assert.Contains(announcement.Answers, r => r is SrvRecord { Port: 40001 });
    }

    [Fact]
    public async Task A_host_that_claims_an_announced_name_later_sends_the_server_back_to_probing_and_it_renames()
    {
        var name = "Porch " + Environment.ProcessId;
        await using var server = await TestServers.StartAdvertisedAsync(name);
        Assert.Equal(name, server.AdvertisedServiceName);

        // Another host appears with the same instance name and defends it (RFC 6762 section 9): it announces,
        // and answers our probes with its own SRV record.
        var fqdn = $"{name}.{MdnsAdvertiser.ServiceType}";
        await using var rival = await Rival.StartAsync(fqdn, port: 40002);

        await using var browser = new MdnsBrowser(Loopback);
        await using var rounds = browser.WatchAsync().GetAsyncEnumerator();
        for (var round = 0; round < 100 && server.AdvertisedServiceName == name; round++)
        {
            Assert.True(await rounds.MoveNextAsync().AsTask().Within());
            if (rounds.Current.Servers.Any(s => s.Port == server.Port && s.ServiceName == name + " (2)"))
            {
                break;
            }
        }

        Assert.Equal(name + " (2)", server.AdvertisedServiceName);
        Assert.True(rival.ProbesAnswered > 0);
    }

    [Fact]
    public async Task A_host_that_claims_every_name_slows_probing_after_15_conflicts_in_10_seconds()
    {
        var clock = new ManualTimeProvider();
        var name = "Greedy " + Environment.ProcessId;
        await using var rival = await Rival.StartAsync($"{name}.{MdnsAdvertiser.ServiceType}", port: 40005, everyNameAfter: true);
        await using var advertiser = new MdnsAdvertiser(name, 40006, "/ws", new JsonObject(), timeProvider: clock);
        var starting = advertiser.StartAsync(Loopback, CancellationToken.None);

        // The first probe's random wait is on the fake clock; after it, every probe is answered by the rival at
        // once and renamed, without the clock moving: fifteen conflicts within ten seconds, and the next
        // probe waits five seconds (RFC 6762 section 8.1).
        await clock.TimerCreated.WaitUntilAsync(due => due.Count >= 1);
        clock.Advance(clock.TimerCreated.Items[0]);
        await clock.TimerCreated.WaitUntilAsync(due => due.Contains(TimeSpan.FromSeconds(5)));

        Assert.Equal(name + " (16)", advertiser.InstanceName);
        Assert.False(starting.IsCompleted);
    }

    [Fact]
    public async Task A_server_whose_name_python_zeroconf_holds_is_renamed()
    {
        var name = "Deck " + Environment.ProcessId;
        await using var peer = PeerProcess.Start(PeerProcess.Python, "zc_register.py", "127.0.0.1", "40003", "60", name);
        Assert.Equal($"registered {name}._localws._tcp.local.", await peer.WaitForLineAsync("registered"));

        await using var server = await TestServers.StartAdvertisedAsync(name);

        Assert.Equal(name + " (2)", server.AdvertisedServiceName);
    }

    [Fact]
    public async Task Python_zeroconf_renames_its_service_when_our_server_holds_the_name()
    {
        var name = "Attic " + Environment.ProcessId;
        await using var server = await TestServers.StartAdvertisedAsync(name);

        await using var peer = PeerProcess.Start(PeerProcess.Python, "zc_register.py", "127.0.0.1", "40004", "60", name);

        // python-zeroconf renames as "Name-2" (Bonjour's "Name (2)" is ours).
        Assert.Equal($"registered {name}-2._localws._tcp.local.", await peer.WaitForLineAsync("registered"));
        Assert.Equal(name, server.AdvertisedServiceName);
    }

    /// <summary>Collects the mDNS packets on loopback that mention one instance name.</summary>
    private sealed class Sniffer : IAsyncDisposable
    {
        private readonly MdnsTransport _transport = MdnsCollection.OpenLoopback();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Sniffer(string instance)
        {
            _loop = Task.Run(async () =>
            {
                var buffer = new byte[DnsMessage.MaxPacketSize];
                while (!_stop.IsCancellationRequested)
                {
                    var (message, _) = await _transport.ReceiveAsync(buffer, _stop.Token);
                    if (message.Questions.Any(q => q.Name.StartsWith(instance + ".", StringComparison.Ordinal))
                        || message.AllRecords.Any(r => r.Name.StartsWith(instance + ".", StringComparison.Ordinal)))
                    {
                        Packets.Add(message);
                    }
                }
            });
        }

        public Probe<DnsMessage> Packets { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _transport.Dispose();
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }

    /// <summary>A minimal responder for one instance name on another host: announces it, and answers every query about it.</summary>
    private sealed class Rival : IAsyncDisposable
    {
        private readonly MdnsTransport _transport = MdnsCollection.OpenLoopback();
        private readonly CancellationTokenSource _stop = new();
        private readonly DnsMessage _records;
        private Task _loop = Task.CompletedTask;
        private int _probesAnswered;
        private bool _everyNameAfter;

        private Rival(string fqdn, int port) => _records = new DnsMessage
        {
            IsResponse = true,
            Answers = [new SrvRecord(fqdn, 120, true, 0, 0, (ushort)port, "rival-host.local."), new AddressRecord("rival-host.local.", 120, true, IPAddress.Parse("127.0.0.9"))],
        };

        public int ProbesAnswered => Volatile.Read(ref _probesAnswered);

        /// <summary>Starts the rival; with <paramref name="everyNameAfter"/>, it also claims every renamed form of the name ("Name (n)").</summary>
        public static async Task<Rival> StartAsync(string fqdn, int port, bool everyNameAfter = false)
        {
            var rival = new Rival(fqdn, port) { _everyNameAfter = everyNameAfter };
            rival._loop = rival.AnswerAsync(fqdn);
            await rival._transport.SendAsync(rival._records, null, CancellationToken.None);
            return rival;
        }

        private async Task AnswerAsync(string fqdn)
        {
            var buffer = new byte[DnsMessage.MaxPacketSize];
            while (!_stop.IsCancellationRequested)
            {
                var (message, _) = await _transport.ReceiveAsync(buffer, _stop.Token);
                if (!message.IsResponse && message.Questions.Any(q => q.Name == fqdn))
                {
                    Interlocked.Increment(ref _probesAnswered);
                    await _transport.SendAsync(_records, null, _stop.Token);
                }
                else if (_everyNameAfter && !message.IsResponse
                    && message.Questions.FirstOrDefault(q => q.Name.StartsWith(fqdn.Split('.')[0] + " (", StringComparison.Ordinal)) is { } renamed)
                {
                    Interlocked.Increment(ref _probesAnswered);
                    var srv = (SrvRecord)_records.Answers[0];
                    await _transport.SendAsync(new DnsMessage { IsResponse = true, Answers = [srv with { Name = renamed.Name }] }, null, _stop.Token);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _transport.Dispose();
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }
}
