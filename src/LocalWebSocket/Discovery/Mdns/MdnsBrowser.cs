using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// Finds <c>_localws._tcp</c> services over mDNS (IPv4 and IPv6) on chosen interfaces: queries with backoff, keeps a cache
/// that honours TTLs, removes services on goodbye (TTL 0) or expiry, and asks for missing SRV, TXT or A
/// records. Yields the same <see cref="DiscoveredServer"/> the scanner does.
/// </summary>
internal sealed class MdnsBrowser : IAsyncDisposable
{
    /// <summary>Query intervals: the first after 20-120 ms, then doubling from 1 s up to one a minute (RFC 6762 section 5.2).</summary>
    private static readonly TimeSpan MaxQueryInterval = TimeSpan.FromMinutes(1);

    /// <summary>How often the cache is checked for expired records.</summary>
    private static readonly TimeSpan ExpiryInterval = TimeSpan.FromSeconds(1);

    /// <summary>The same question is not asked again within this (RFC 6762 section 5.2: a second between queries).</summary>
    private static readonly TimeSpan RepeatInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most bytes a query packet takes: within an Ethernet frame with IPv4 or IPv6 and UDP headers, so a
    /// query is never fragmented (RFC 6762 section 17; responses may be larger).
    /// </summary>
    internal const int QueryPacketBudget = 1400;

    /// <summary>The most packets one query is split into for its known answers (section 7.2).</summary>
    internal const int MaxQueryPackets = 8;

    /// <summary>The least time between two queries: at most 20 a second, whatever arrives.</summary>
    private static readonly TimeSpan MinQueryGap = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The most records the cache holds. A LAN of a few hundred services needs a few per service; anyone on
    /// the link can send valid-looking records, so past this the least recently refreshed are dropped.
    /// </summary>
    internal const int MaxCachedRecords = 4096;

    private readonly IReadOnlyList<IPAddress> _interfaces;
    private readonly TimeProvider _time;
    private readonly string _serviceType;
    private readonly string _instanceSuffix;

    // Guarded by _gate: the receive loops store, the query loop expires and asks, the watcher resolves.
    // Invariants: every cache entry has one queue item with its stamp (older items for the same key are
    // stale and skipped); _hostReferences counts, per lower-case host name, the cached SRV records that
    // point at it, so address records are kept only for hosts a service of ours names.
    private readonly Dictionary<CacheKey, CacheEntry> _cache = [];
    private readonly Queue<(CacheKey Key, long Stamp)> _refreshOrder = new();
    private readonly Dictionary<string, int> _hostReferences = [];
    private long _nextStamp;
    private readonly Lock _gate = new();

    private long _responsesReceived;

    // Every socket open while browsing (each has a receive loop), and those the query loop sends from: the
    // 5353 ones when watching, the one-shot ones when browsing once. Changed only by BrowseAsync and disposal.
    private readonly List<MdnsTransport> _transports = [];
    private readonly List<MdnsTransport> _queriers = [];

    /// <param name="interfaces">Addresses of the interfaces to browse on (IPv4 or IPv6); none: every suitable one (see <see cref="MdnsLink.Defaults"/>).</param>
    /// <param name="timeProvider">The clock of queries and expiry.</param>
    /// <param name="serviceType">The DNS-SD service type browsed for.</param>
    public MdnsBrowser(IReadOnlyList<IPAddress> interfaces, TimeProvider? timeProvider = null, string serviceType = MdnsAdvertiser.ServiceType)
    {
        _interfaces = interfaces;
        _time = timeProvider ?? TimeProvider.System;
        _serviceType = serviceType;
        _instanceSuffix = "." + Normal(serviceType);
    }

    /// <summary>Where queries and finds are counted; the process's shared meter unless discovery says otherwise.</summary>
    internal Internal.Telemetry.DiscoveryInstruments Instruments { get; init; } = Internal.Telemetry.ForDiscovery(null);

    /// <summary>How many well-formed responses the receive loops have handled (for tests, to pace what they send).</summary>
    internal long ResponsesReceived => Interlocked.Read(ref _responsesReceived);

    /// <summary>How many records the cache holds now (for tests: it never exceeds <see cref="MaxCachedRecords"/>).</summary>
    internal int CachedRecordCount
    {
        get
        {
            lock (_gate)
            {
                return _cache.Count;
            }
        }
    }

    /// <summary>Browses until cancelled, yielding a snapshot at once and then whenever the set of services changes.</summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on an interface.</exception>
    public IAsyncEnumerable<DiscoverySnapshot> WatchAsync(CancellationToken cancellationToken = default) =>
        BrowseAsync(answerWindow: null, cancellationToken);

    /// <summary>
    /// Browses until no answer is expected any more: <paramref name="answerWindow"/> after the last query
    /// (the first one, or one asking what an instance still lacks) has passed. Yields like <see cref="WatchAsync"/>.
    /// </summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on an interface.</exception>
    public IAsyncEnumerable<DiscoverySnapshot> BrowseOnceAsync(TimeSpan answerWindow, CancellationToken cancellationToken = default) =>
        BrowseAsync(answerWindow, cancellationToken);

    private async IAsyncEnumerable<DiscoverySnapshot> BrowseAsync(TimeSpan? answerWindow, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        OpenTransports(_interfaces.Count > 0 ? MdnsLink.For(_interfaces) : MdnsLink.Defaults(), oneShot: answerWindow is not null, required: _interfaces.Count > 0);

        // The query loop completes it when a one-shot is over; the receive loops' later writes are then dropped.
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var newRecords = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = _transports.Select(t => ReceiveLoopAsync(t, changes.Writer, newRecords.Writer, stop.Token))
            .Append(QueryLoopAsync(changes.Writer, newRecords.Reader, answerWindow, stop.Token))
            .ToList();
        try
        {
            var known = new Dictionary<Uri, DiscoveredServer>();
            var first = true;
            while (true)
            {
                var more = await changes.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
                changes.Reader.TryRead(out _);

                // Once more after the end: an answer stored just before it is not lost.
                var current = Resolve();
                var snapshot = DiscoverySnapshot.Diff(known, current);
                if (first || snapshot.Added.Count + snapshot.Removed.Count + snapshot.Changed.Count > 0)
                {
                    first = false;
                    known = current.ToDictionary(server => server.Url);
                    Instruments.ServersFound.Add(snapshot.Added.Count, Internal.Telemetry.Mdns);
                    yield return snapshot;
                }

                if (!more)
                {
                    break;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var transport in _transports)
            {
                transport.Dispose();
            }

            await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _transports.Clear();
            _queriers.Clear();
        }
    }

    /// <summary>
    /// Opens, for each link and family it has, the 5353 socket and, browsing once, the querier's own. A family
    /// that cannot be opened is skipped while the link has the other; with <paramref name="required"/> (links
    /// the caller named), a link where neither opens throws.
    /// </summary>
    private void OpenTransports(IReadOnlyList<MdnsLink> links, bool oneShot, bool required)
    {
        try
        {
            foreach (var link in links)
            {
                LocalWebSocketException? failure = null;
                var opened = 0;
                foreach (var family in link.Families)
                {
                    try
                    {
                        var listener = MdnsTransport.Open(link, family);
                        _transports.Add(listener);

                        // Browsing once, we are a one-shot querier (RFC 6762 section 5.1): asked from an ephemeral
                        // port, responders answer at once by unicast. The 5353 socket still hears announcements and
                        // others' answers.
                        var querier = oneShot ? MdnsTransport.OpenOneShot(link, family) : listener;
                        if (querier != listener)
                        {
                            _transports.Add(querier);
                        }

                        _queriers.Add(querier);
                        opened++;
                    }
                    catch (LocalWebSocketException exception)
                    {
                        failure ??= exception;
                    }
                }

                if (opened == 0 && failure is not null && required)
                {
                    throw failure;
                }
            }
        }
        catch
        {
            _transports.ForEach(transport => transport.Dispose());
            _transports.Clear();
            _queriers.Clear();
            throw;
        }
    }

    private async Task ReceiveLoopAsync(MdnsTransport transport, ChannelWriter<bool> changes, ChannelWriter<bool> newRecords, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessage.MaxPacketSize];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (message, _) = await transport.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (message.IsResponse)
                {
                    if (Store(message, transport.Link.Index))
                    {
                        changes.TryWrite(true);

                        // The query loop asks at once for what a new instance still lacks.
                        newRecords.TryWrite(true);
                    }

                    Interlocked.Increment(ref _responsesReceived);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Queries with backoff, asks for missing records as soon as an answer leaves an instance incomplete (each
    /// question at most once a second), expires the cache once a second, and, browsing once, completes
    /// <paramref name="changes"/> when <paramref name="answerWindow"/> has passed since the last query.
    /// </summary>
    private async Task QueryLoopAsync(ChannelWriter<bool> changes, ChannelReader<bool> newRecords, TimeSpan? answerWindow, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(1);
        var now = _time.GetUtcNow();

        // RFC 6762 section 5.2: a continuous querier sends its first query 20-120 ms after start, so hosts that
        // start together (after a power cut) do not all ask at once. A one-shot querier (section 5.1) asks at
        // once: its answers come back by unicast to its own port, so many of them asking together cost the
        // link no multicast storm, and a user waiting for "join the first table" waits for nothing.
        var nextQuery = answerWindow is null ? now + TimeSpan.FromMilliseconds(Random.Shared.Next(20, 121)) : now;
        var nextExpiry = now + ExpiryInterval;
        DateTimeOffset? lastQuery = null;

        // Local to this loop: when each question was last asked, so a stream of answers does not make us ask
        // the same thing again and again. Pruned after a second, it holds at most what a second of queries asked.
        var asked = new Dictionary<DnsQuestion, DateTimeOffset>();
        try
        {
            changes.TryWrite(true);
            while (!cancellationToken.IsCancellationRequested)
            {
                now = _time.GetUtcNow();
                foreach (var question in asked.Where(entry => now - entry.Value >= RepeatInterval).Select(entry => entry.Key).ToList())
                {
                    asked.Remove(question);
                }

                // Follow-ups keep a small gap between queries, so a flood of answers cannot make a flood of queries.
                var mayFollowUp = lastQuery is not { } last || now - last >= MinQueryGap;
                var questions = mayFollowUp ? MissingRecordQuestions().Where(q => !asked.ContainsKey(q)).ToList() : [];
                if (now >= nextQuery)
                {
                    questions.Insert(0, new DnsQuestion(_serviceType, DnsType.Ptr));
                    nextQuery = now + interval;
                    interval = interval * 2 > MaxQueryInterval ? MaxQueryInterval : interval * 2;
                }

                if (questions.Count > 0)
                {
                    var packets = SplitQuery(questions, KnownAnswers(now));
                    foreach (var transport in _queriers)
                    {
                        foreach (var packet in packets)
                        {
                            await transport.SendAsync(packet, null, cancellationToken).ConfigureAwait(false);
                            Instruments.Probes.Add(1, Internal.Telemetry.Mdns);
                        }
                    }

                    lastQuery = now;
                    foreach (var question in packets[0].Questions)
                    {
                        asked[question] = now;
                    }
                }

                if (now >= nextExpiry)
                {
                    nextExpiry = now + ExpiryInterval;
                    if (Expire())
                    {
                        changes.TryWrite(true);
                    }
                }

                var wakeAt = nextQuery < nextExpiry ? nextQuery : nextExpiry;
                if (answerWindow is { } window && lastQuery is { } sent)
                {
                    if (now >= sent + window)
                    {
                        return;
                    }

                    wakeAt = sent + window < wakeAt ? sent + window : wakeAt;
                }

                if (!mayFollowUp && lastQuery is { } previous && previous + MinQueryGap < wakeAt)
                {
                    wakeAt = previous + MinQueryGap;
                }

                // From the clock's time now, not the loop's: sending may have taken a while.
                await SleepAsync(wakeAt, newRecords, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped, or the interface went away; the receive loops end too.
        }
        finally
        {
            if (answerWindow is not null)
            {
                changes.TryComplete();
            }
        }
    }

    /// <summary>Waits until <paramref name="wakeAt"/> on the browser's clock, or less when new records arrive.</summary>
    private async Task SleepAsync(DateTimeOffset wakeAt, ChannelReader<bool> newRecords, CancellationToken cancellationToken)
    {
        if (newRecords.TryRead(out _))
        {
            return;
        }

        using var sleep = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = wakeAt - _time.GetUtcNow();
        var timer = Task.Delay(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, _time, sleep.Token);

        // The clock may have passed wakeAt between reading it and arming the timer (a test's clock moves on
        // another thread): the timer would then wait a whole delay too long.
        if (_time.GetUtcNow() < wakeAt)
        {
            var woken = newRecords.WaitToReadAsync(sleep.Token).AsTask();
            await Task.WhenAny(timer, woken).ConfigureAwait(false);
            await sleep.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(timer, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else
        {
            await sleep.CancelAsync().ConfigureAwait(false);
            await timer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        newRecords.TryRead(out _);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Caches the records of a response that concern our service type; true when anything new or removed. A
    /// link-local IPv6 address means an address on the link it came from, so it is stored with that link's
    /// index (<paramref name="scopeId"/>) as its scope: the URL built from it then says which interface to use.
    /// </summary>
    internal bool Store(DnsMessage message, int scopeId = 0)
    {
        var now = _time.GetUtcNow();
        var changed = false;
        lock (_gate)
        {
            // Address records are wanted for the hosts of SRV records in this very message too.
            var hostsInMessage = message.AllRecords.OfType<SrvRecord>().Where(IsRelevant).Select(srv => Normal(srv.Target)).ToHashSet();
            foreach (var record in message.AllRecords)
            {
                if (!IsRelevant(record) && !(record is AddressRecord && hostsInMessage.Contains(Normal(record.Name))))
                {
                    continue;
                }

                var stored = record is AddressRecord { Address.IsIPv6LinkLocal: true } linkLocal && scopeId > 0
                    ? linkLocal with { Address = new IPAddress(linkLocal.Address.GetAddressBytes(), scopeId) }
                    : record;
                var key = KeyOf(stored);
                if (record.Ttl == 0)
                {
                    // A goodbye: RFC 6762 section 10.1 keeps it one more second; we drop it at once.
                    changed |= RemoveLocked(key);
                    continue;
                }

                if (record.CacheFlush)
                {
                    foreach (var stale in _cache.Keys.Where(k => k.Name == key.Name && k.Type == key.Type && k.Key != key.Key).ToList())
                    {
                        changed |= RemoveLocked(stale);
                    }
                }

                changed |= !_cache.TryGetValue(key, out var old) || !old.Record.Equals(stored);
                PutLocked(key, stored, now + TimeSpan.FromSeconds(record.Ttl));
            }

            changed |= EvictLocked();
        }

        return changed;
    }

    /// <summary>
    /// PTRs of our service type naming one of its instances, SRV and TXT records of such instances, and
    /// address records of hosts a cached SRV names. The rest of the link's traffic is not ours to keep.
    /// </summary>
    private bool IsRelevant(DnsRecord record) => record switch
    {
        PtrRecord ptr => Normal(ptr.Name) == Normal(_serviceType) && Normal(ptr.Target).EndsWith(_instanceSuffix, StringComparison.Ordinal),
        SrvRecord or TxtRecord => Normal(record.Name).EndsWith(_instanceSuffix, StringComparison.Ordinal),
        AddressRecord => _hostReferences.ContainsKey(Normal(record.Name)),
        _ => false,
    };

    private void PutLocked(CacheKey key, DnsRecord record, DateTimeOffset expires)
    {
        Debug.Assert(_gate.IsHeldByCurrentThread);
        if (_cache.TryGetValue(key, out var old))
        {
            ForgetHostLocked(old.Record);
        }

        var stamp = _nextStamp++;
        _cache[key] = new CacheEntry(record, expires, stamp);
        _refreshOrder.Enqueue((key, stamp));
        if (record is SrvRecord srv)
        {
            var host = Normal(srv.Target);
            _hostReferences[host] = _hostReferences.GetValueOrDefault(host) + 1;
        }
    }

    private bool RemoveLocked(CacheKey key)
    {
        Debug.Assert(_gate.IsHeldByCurrentThread);
        if (!_cache.Remove(key, out var old))
        {
            return false;
        }

        ForgetHostLocked(old.Record);
        return true;
    }

    private void ForgetHostLocked(DnsRecord record)
    {
        if (record is SrvRecord srv)
        {
            var host = Normal(srv.Target);
            Debug.Assert(_hostReferences.ContainsKey(host));
            if (--_hostReferences[host] == 0)
            {
                _hostReferences.Remove(host);
            }
        }
    }

    /// <summary>Drops the least recently refreshed records past <see cref="MaxCachedRecords"/>, and compacts the refresh order.</summary>
    private bool EvictLocked()
    {
        Debug.Assert(_gate.IsHeldByCurrentThread);
        var evicted = false;
        while (_cache.Count > MaxCachedRecords && _refreshOrder.TryDequeue(out var oldest))
        {
            if (_cache.TryGetValue(oldest.Key, out var entry) && entry.Stamp == oldest.Stamp)
            {
                evicted |= RemoveLocked(oldest.Key);
            }
        }

        // Refreshes and removals leave stale items behind; rebuilding when they outnumber the live ones keeps
        // the queue within twice the cache (plus a little), whatever the traffic.
        if (_refreshOrder.Count > (2 * _cache.Count) + 64)
        {
            var live = _cache.Select(entry => (entry.Key, entry.Value.Stamp)).OrderBy(item => item.Stamp).ToList();
            _refreshOrder.Clear();
            live.ForEach(_refreshOrder.Enqueue);
        }

        Debug.Assert(_cache.Count <= MaxCachedRecords);
        return evicted;
    }

    private bool Expire()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var expired = _cache.Where(entry => entry.Value.Expires <= now).Select(entry => entry.Key).ToList();
            expired.ForEach(key => RemoveLocked(key));
            return expired.Count > 0;
        }
    }

    /// <summary>Questions for what a known instance still lacks (its SRV or TXT, or its host's address).</summary>
    private List<DnsQuestion> MissingRecordQuestions()
    {
        var questions = new List<DnsQuestion>();
        lock (_gate)
        {
            var index = new RecordIndex(_cache.Values.Select(entry => entry.Record));
            foreach (var ptr in index.Pointers)
            {
                var srv = index.Service(ptr.Target);
                if (srv is null)
                {
                    questions.Add(new DnsQuestion(ptr.Target, DnsType.Srv));
                    questions.Add(new DnsQuestion(ptr.Target, DnsType.Txt));
                }
                else if (index.Address(srv.Target) is null)
                {
                    questions.Add(new DnsQuestion(srv.Target, DnsType.A));
                }
            }
        }

        // When more is missing than one query can ask (a flood of pointers), FitQuery keeps a prefix: shuffled,
        // every instance gets its turn over the next queries.
        Random.Shared.Shuffle(CollectionsMarshal.AsSpan(questions));
        return questions;
    }

    /// <summary>
    /// A query split into packets as RFC 6762 section 7.2 says: the first holds as many of the questions as
    /// fit (the rest are asked next time) and the known answers that fit after them; the other known answers
    /// follow in further packets without questions, each but the last with the TC bit, which tells responders
    /// to wait for them. At most <see cref="MaxQueryPackets"/> packets of <see cref="QueryPacketBudget"/>
    /// bytes: known answers past that are left out, which costs at worst an answer we already had.
    /// </summary>
    internal static List<DnsMessage> SplitQuery(List<DnsQuestion> questions, List<DnsRecord> knownAnswers)
    {
        var asked = questions[..LargestFitting(questions.Count, n => new DnsMessage { Questions = questions[..n] })];
        var packets = new List<DnsMessage>();
        var next = 0;
        do
        {
            var first = packets.Count == 0;
            var start = next;
            var count = LargestFitting(knownAnswers.Count - start, n => new DnsMessage { Questions = first ? asked : [], Answers = knownAnswers.GetRange(start, n) });
            if (!first && count == 0)
            {
                break;
            }

            packets.Add(new DnsMessage { Questions = first ? asked : [], Answers = knownAnswers.GetRange(start, count) });
            next += count;
        }
        while (next < knownAnswers.Count && packets.Count < MaxQueryPackets);

        for (var i = 0; i < packets.Count - 1; i++)
        {
            packets[i] = new DnsMessage { Questions = packets[i].Questions, Answers = packets[i].Answers, Truncated = true };
        }

        return packets;

        // The largest n for which the message fits the budget (0 when none does), by bisection.
        static int LargestFitting(int most, Func<int, DnsMessage> message)
        {
            int low = 0, high = most;
            while (low < high)
            {
                var middle = low + ((high - low + 1) / 2);
                if (Fits(message(middle)))
                {
                    low = middle;
                }
                else
                {
                    high = middle - 1;
                }
            }

            return low;
        }

        static bool Fits(DnsMessage message) => message.TryEncode(out var packet) && packet.Length <= QueryPacketBudget;
    }

    /// <summary>Known-answer suppression: the PTRs we hold with over half their TTL left.</summary>
    private List<DnsRecord> KnownAnswers(DateTimeOffset now)
    {
        lock (_gate)
        {
            return [.. _cache.Values
                .Where(entry => entry.Record is PtrRecord ptr && Same(ptr.Name, _serviceType)
                    && entry.Expires - now > TimeSpan.FromSeconds(entry.Record.Ttl / 2.0))
                .Select(entry => entry.Record.WithTtl((uint)Math.Max(1, (entry.Expires - now).TotalSeconds)))];
        }
    }

    /// <summary>The services that are complete (PTR, SRV, address), as discovered servers ordered by URL.</summary>
    internal List<DiscoveredServer> Resolve()
    {
        var servers = new Dictionary<Uri, DiscoveredServer>();
        lock (_gate)
        {
            var index = new RecordIndex(_cache.Values.Select(entry => entry.Record));
            foreach (var ptr in index.Pointers)
            {
                var srv = index.Service(ptr.Target);
                var address = srv is null ? null : index.Address(srv.Target);
                if (srv is null || address is null)
                {
                    continue;
                }

                var txt = index.Text(ptr.Target)?.ToDictionary() ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                var path = txt.TryGetValue("path", out var p) && p.StartsWith('/') ? p : "/ws";
                // A link-local address keeps its scope in the URL (ws://[fe80::1%2]:8080/ws), as .NET's Uri reads it.
                var host = address.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address.Address}]" : address.Address.ToString();
                var url = new Uri($"ws://{host}:{srv.Port}{path}");
                servers[url] = new DiscoveredServer(url, address.Address, srv.Port, DetailsOf(txt), DiscoverySource.Mdns, TimeSpan.Zero, InstanceLabel(ptr.Target));
            }
        }

        return [.. servers.Values.OrderBy(s => s.Url.ToString(), StringComparer.Ordinal)];
    }

    /// <summary>The TXT entries, less the protocol ones, as a JSON object of strings.</summary>
    private static JsonElement DetailsOf(Dictionary<string, string> txt)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (key, value) in txt.Where(entry => entry.Key is not ("path" or "v")).OrderBy(entry => entry.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private string InstanceLabel(string instance)
    {
        var label = instance.TrimEnd('.');
        var suffix = "." + _serviceType.TrimEnd('.');
        return label.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) ? label[..^suffix.Length] : label;
    }

    private static CacheKey KeyOf(DnsRecord record) => new(Normal(record.Name), record.Type, record switch
    {
        PtrRecord ptr => Normal(ptr.Target),
        SrvRecord srv => $"{Normal(srv.Target)}:{srv.Port}",
        AddressRecord address => address.Address.ToString(),
        _ => "",
    });

    /// <summary>A name as compared here: DNS names are case-insensitive and the final dot is optional.</summary>
    private static string Normal(string name) => name.TrimEnd('.').ToLowerInvariant();

    private static bool Same(string a, string b) => string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

    /// <summary>A record's identity in the cache: its name, type, and what tells two records of a set apart.</summary>
    private readonly record struct CacheKey(string Name, DnsType Type, string Key);

    /// <summary>A cached record, when it expires, and when it was last stored (for eviction order).</summary>
    private readonly record struct CacheEntry(DnsRecord Record, DateTimeOffset Expires, long Stamp);

    /// <summary>The cache's records by name, built once per pass so a pass is linear in the cache, not quadratic.</summary>
    private sealed class RecordIndex
    {
        private readonly Dictionary<string, SrvRecord> _services = [];
        private readonly Dictionary<string, TxtRecord> _texts = [];
        private readonly Dictionary<string, AddressRecord> _addresses = [];

        public RecordIndex(IEnumerable<DnsRecord> records)
        {
            foreach (var record in records)
            {
                var name = Normal(record.Name);
                switch (record)
                {
                    case PtrRecord ptr:
                        Pointers.Add(ptr);
                        break;
                    case SrvRecord srv:
                        _services.TryAdd(name, srv);
                        break;
                    case TxtRecord txt:
                        _texts.TryAdd(name, txt);
                        break;
                    case AddressRecord address when !_addresses.TryGetValue(name, out var held) || Better(address.Address, held.Address):
                        _addresses[name] = address;
                        break;
                }
            }
        }

        /// <summary>The instances' pointers (the cache holds only those of our service type).</summary>
        public List<PtrRecord> Pointers { get; } = [];

        public SrvRecord? Service(string instance) => _services.GetValueOrDefault(Normal(instance));

        public TxtRecord? Text(string instance) => _texts.GetValueOrDefault(Normal(instance));

        public AddressRecord? Address(string host) => _addresses.GetValueOrDefault(Normal(host));

        /// <summary>
        /// Which address of a host the URL uses (lowest first): IPv4, then a routable IPv6 one, then a link-local one
        /// (it needs a scope id), and among equals the lowest, so the choice does not depend on the cache's order.
        /// </summary>
        private static bool Better(IPAddress candidate, IPAddress held)
        {
            var order = Rank(candidate).CompareTo(Rank(held));
            return order < 0 || (order == 0 && string.CompareOrdinal(candidate.ToString(), held.ToString()) < 0);

            static int Rank(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork ? 0 : address.IsIPv6LinkLocal ? 2 : 1;
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var transport in _transports)
        {
            transport.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
