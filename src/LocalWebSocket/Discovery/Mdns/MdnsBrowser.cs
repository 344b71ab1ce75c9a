using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// Finds <c>_localws._tcp</c> services over mDNS on chosen interfaces: queries with backoff, keeps a cache
/// that honours TTLs, removes services on goodbye (TTL 0) or expiry, and asks for missing SRV, TXT or A
/// records. Yields the same <see cref="DiscoveredServer"/> the scanner does.
/// </summary>
internal sealed class MdnsBrowser : IAsyncDisposable
{
    /// <summary>Query intervals: at once, then doubling from 1 s up to one a minute (RFC 6762 section 5.2).</summary>
    private static readonly TimeSpan MaxQueryInterval = TimeSpan.FromMinutes(1);

    private readonly IReadOnlyList<IPAddress> _interfaces;
    private readonly TimeProvider _time;
    private readonly string _serviceType;
    private readonly Dictionary<(string Name, DnsType Type, string Key), (DnsRecord Record, DateTimeOffset Expires)> _cache = [];
    private readonly Lock _gate = new();
    private readonly List<MdnsTransport> _transports = [];

    public MdnsBrowser(IReadOnlyList<IPAddress> interfaces, TimeProvider? timeProvider = null, string serviceType = MdnsAdvertiser.ServiceType)
    {
        _interfaces = interfaces;
        _time = timeProvider ?? TimeProvider.System;
        _serviceType = serviceType;
    }

    /// <summary>Browses until cancelled, yielding a snapshot whenever the set of services changes.</summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on an interface.</exception>
    public async IAsyncEnumerable<DiscoverySnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var address in _interfaces)
        {
            _transports.Add(MdnsTransport.Open(address));
        }

        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = _transports.Select(t => ReceiveLoopAsync(t, changes.Writer, stop.Token))
            .Append(QueryLoopAsync(changes.Writer, stop.Token))
            .ToList();
        try
        {
            var known = new Dictionary<Uri, DiscoveredServer>();
            var first = true;
            while (await changes.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                changes.Reader.TryRead(out _);
                var current = Resolve();
                var snapshot = DiscoverySnapshot.Diff(known, current);
                if (first || snapshot.Added.Count + snapshot.Removed.Count + snapshot.Changed.Count > 0)
                {
                    first = false;
                    known = current.ToDictionary(server => server.Url);
                    yield return snapshot;
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
        }
    }

    private async Task ReceiveLoopAsync(MdnsTransport transport, ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessage.MaxPacketSize];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (message, _) = await transport.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (message.IsResponse && Store(message))
                {
                    changes.TryWrite(true);
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

    /// <summary>Queries with backoff, asks for missing records, and wakes the resolver once a second for expiry.</summary>
    private async Task QueryLoopAsync(ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(1);
        var nextQuery = _time.GetUtcNow();
        try
        {
            changes.TryWrite(true);
            while (!cancellationToken.IsCancellationRequested)
            {
                var now = _time.GetUtcNow();
                var questions = MissingRecordQuestions();
                if (now >= nextQuery)
                {
                    questions.Insert(0, new DnsQuestion(_serviceType, DnsType.Ptr));
                    nextQuery = now + interval;
                    interval = interval * 2 > MaxQueryInterval ? MaxQueryInterval : interval * 2;
                }

                if (questions.Count > 0)
                {
                    var query = new DnsMessage { Questions = questions, Answers = KnownAnswers(now) };
                    foreach (var transport in _transports)
                    {
                        await transport.SendAsync(query, null, cancellationToken).ConfigureAwait(false);
                    }
                }

                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
                if (Expire())
                {
                    changes.TryWrite(true);
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped, or the interface went away; the receive loops end too.
        }
    }

    /// <summary>Caches the records of a response; true when anything new or removed.</summary>
    private bool Store(DnsMessage message)
    {
        var now = _time.GetUtcNow();
        var changed = false;
        lock (_gate)
        {
            foreach (var record in message.AllRecords)
            {
                var key = KeyOf(record);
                if (record.Ttl == 0)
                {
                    // A goodbye: RFC 6762 section 10.1 keeps it one more second; we drop it at once.
                    changed |= _cache.Remove(key);
                    continue;
                }

                if (record.CacheFlush)
                {
                    foreach (var stale in _cache.Keys.Where(k => k.Name == key.Name && k.Type == key.Type && k.Key != key.Key).ToList())
                    {
                        _cache.Remove(stale);
                        changed = true;
                    }
                }

                changed |= !_cache.ContainsKey(key) || !_cache[key].Record.Equals(record);
                _cache[key] = (record, now + TimeSpan.FromSeconds(record.Ttl));
            }
        }

        return changed;
    }

    private bool Expire()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var expired = _cache.Where(entry => entry.Value.Expires <= now).Select(entry => entry.Key).ToList();
            expired.ForEach(key => _cache.Remove(key));
            return expired.Count > 0;
        }
    }

    /// <summary>Questions for what a known instance still lacks (its SRV or TXT, or its host's address).</summary>
    private List<DnsQuestion> MissingRecordQuestions()
    {
        var questions = new List<DnsQuestion>();
        lock (_gate)
        {
            foreach (var ptr in Records<PtrRecord>().Where(p => Same(p.Name, _serviceType)))
            {
                var srv = Records<SrvRecord>().FirstOrDefault(s => Same(s.Name, ptr.Target));
                if (srv is null)
                {
                    questions.Add(new DnsQuestion(ptr.Target, DnsType.Srv));
                    questions.Add(new DnsQuestion(ptr.Target, DnsType.Txt));
                }
                else if (!Records<AddressRecord>().Any(a => Same(a.Name, srv.Target)))
                {
                    questions.Add(new DnsQuestion(srv.Target, DnsType.A));
                }
            }
        }

        return questions;
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
    private List<DiscoveredServer> Resolve()
    {
        var servers = new Dictionary<Uri, DiscoveredServer>();
        lock (_gate)
        {
            foreach (var ptr in Records<PtrRecord>().Where(p => Same(p.Name, _serviceType)))
            {
                var srv = Records<SrvRecord>().FirstOrDefault(s => Same(s.Name, ptr.Target));
                var address = srv is null ? null : Records<AddressRecord>()
                    .Where(a => Same(a.Name, srv.Target))
                    .OrderBy(a => a.Address.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
                    .FirstOrDefault();
                if (srv is null || address is null)
                {
                    continue;
                }

                var txt = Records<TxtRecord>().FirstOrDefault(t => Same(t.Name, ptr.Target))?.ToDictionary()
                    ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                var path = txt.TryGetValue("path", out var p) && p.StartsWith('/') ? p : "/ws";
                var host = address.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address.Address}]" : address.Address.ToString();
                var url = new Uri($"ws://{host}:{srv.Port}{path}");
                servers[url] = new DiscoveredServer(url, address.Address, srv.Port, DetailsOf(txt), DiscoverySource.Mdns, TimeSpan.Zero, InstanceLabel(ptr.Target));
            }
        }

        return [.. servers.Values.OrderBy(s => s.Url.ToString(), StringComparer.Ordinal)];
    }

    private IEnumerable<T> Records<T>() where T : DnsRecord => _cache.Values.Select(entry => entry.Record).OfType<T>();

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

    private static (string Name, DnsType Type, string Key) KeyOf(DnsRecord record) => (record.Name.ToLowerInvariant(), record.Type, record switch
    {
        PtrRecord ptr => ptr.Target.ToLowerInvariant(),
        SrvRecord srv => $"{srv.Target.ToLowerInvariant()}:{srv.Port}",
        AddressRecord address => address.Address.ToString(),
        _ => "",
    });

    private static bool Same(string a, string b) => string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

    public ValueTask DisposeAsync()
    {
        foreach (var transport in _transports)
        {
            transport.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
