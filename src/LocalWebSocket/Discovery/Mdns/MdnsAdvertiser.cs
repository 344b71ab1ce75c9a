using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// Advertises one server as a DNS-SD service (<c>_localws._tcp.local.</c>) on chosen interfaces: answers
/// queries, announces at start and on changes, and says goodbye (TTL 0) when disposed.
/// </summary>
/// <remarks>Name conflict probing (RFC 6762 section 8) is not done; instance and host names carry a random suffix instead.</remarks>
internal sealed class MdnsAdvertiser : IAsyncDisposable
{
    public const string ServiceType = "_localws._tcp.local.";

    private const string ServiceEnumeration = "_services._dns-sd._udp.local.";
    private const int MaxTxtBytes = 1300;

    /// <summary>A TXT entry's length is one byte (RFC 6763 section 6.1).</summary>
    private const int MaxTxtEntryBytes = 255;
    private const uint SharedTtl = 4500;
    private const uint UniqueTtl = 120;

    private readonly List<MdnsTransport> _transports = [];
    private readonly Dictionary<IPAddress, IReadOnlyList<IPAddress>> _ipv6ByInterface = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ILogger _logger;
    private readonly int _port;
    private readonly string _path;
    private TxtContent _txt;

    public MdnsAdvertiser(string name, int port, string path, JsonObject details, ILogger? logger = null)
    {
        var suffix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        InstanceName = $"{Sanitize(name)} ({suffix})";
        HostName = $"lws-{suffix}.local.";
        _port = port;
        _path = path;
        _txt = BuildTxt(path, details);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The service instance label, e.g. <c>Game Room (a1b2c3)</c>.</summary>
    public string InstanceName { get; }

    public string InstanceFqdn => $"{InstanceName}.{ServiceType}";

    public string HostName { get; }

    /// <summary>The details the TXT record leaves out, each with why (empty when all fit).</summary>
    public IReadOnlyList<string> DetailsLeftOut => Volatile.Read(ref _txt).LeftOut;

    /// <summary>Opens every interface, starts answering, and announces.</summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on an interface.</exception>
    public async Task StartAsync(IReadOnlyList<IPAddress> interfaces, CancellationToken cancellationToken)
    {
        foreach (var address in interfaces)
        {
            _transports.Add(MdnsTransport.Open(address));
            _ipv6ByInterface[address] = Ipv6AddressesOf(address);
        }

        foreach (var transport in _transports)
        {
            _loops.Add(AnswerLoopAsync(transport, _stop.Token));
        }

        await AnnounceAsync(cancellationToken).ConfigureAwait(false);

        // RFC 6762 section 8.3: announce at least twice, one second apart.
        _loops.Add(AnnounceAgainAsync(_stop.Token));
    }

    /// <summary>Publishes new details in the TXT record (in place when this returns its task) and announces the change.</summary>
    public async Task UpdateDetailsAsync(JsonObject details, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _txt, BuildTxt(_path, details));
        await AnnounceAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task AnnounceAgainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            await AnnounceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        foreach (var transport in _transports)
        {
            var records = Records(transport.InterfaceAddress);
            var announcement = new DnsMessage { IsResponse = true, Answers = [.. records] };
            await SendSafelyAsync(transport, announcement, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// All records this service publishes on one interface: PTR, SRV, TXT, then the host's A record and the
    /// AAAA records of the same interface's IPv6 addresses.
    /// </summary>
    private List<DnsRecord> Records(IPAddress address) =>
    [
        new PtrRecord(ServiceType, SharedTtl, InstanceFqdn),
        new SrvRecord(InstanceFqdn, UniqueTtl, true, 0, 0, (ushort)_port, HostName),
        new TxtRecord(InstanceFqdn, SharedTtl, true, Volatile.Read(ref _txt).Entries),
        new AddressRecord(HostName, UniqueTtl, true, address),
        .. _ipv6ByInterface.GetValueOrDefault(address, []).Select(v6 => new AddressRecord(HostName, UniqueTtl, true, v6)),
    ];

    /// <summary>The IPv6 addresses of the interface that holds <paramref name="ipv4"/> (::1 for loopback).</summary>
    private static IReadOnlyList<IPAddress> Ipv6AddressesOf(IPAddress ipv4) => Internal.LocalNetwork.IPv6Beside(ipv4);

    private async Task AnswerLoopAsync(MdnsTransport transport, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessage.MaxPacketSize];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (query, from) = await transport.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (query.IsResponse || query.Questions.Count == 0)
                {
                    continue;
                }

                var response = Answer(query, transport.InterfaceAddress, legacy: from.Port != MdnsTransport.Port);
                if (response is not null)
                {
                    await SendSafelyAsync(transport, response, from.Port != MdnsTransport.Port ? from : null, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (System.Net.Sockets.SocketException exception)
            {
                _logger.LogDebug(exception, "mDNS receive on {Interface} failed.", transport.InterfaceAddress);
                await Task.Delay(100, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>The response to a query, or null when it asks nothing of ours.</summary>
    internal DnsMessage? Answer(DnsMessage query, IPAddress address, bool legacy)
    {
        var records = Records(address);
        var answers = new List<DnsRecord>();
        var additionals = new List<DnsRecord>();
        var answered = new List<DnsQuestion>();
        foreach (var question in query.Questions.DistinctBy(q => (q.Name.TrimEnd('.').ToLowerInvariant(), q.Type)))
        {
            var before = answers.Count;
            AnswerQuestion(question);
            if (answers.Count > before)
            {
                answered.Add(question);
            }
        }

        if (answers.Count == 0)
        {
            return null;
        }

        additionals.RemoveAll(answers.Contains);
        if (legacy)
        {
            // RFC 6762 section 6.7: a one-shot querier gets the query id back, its questions, and short TTLs.
            // Only the questions we answer are repeated: echoing a packet full of others' questions (or one
            // question a thousand times) would not fit a response.
            return new DnsMessage
            {
                Id = query.Id,
                IsResponse = true,
                Questions = answered,
                Answers = [.. answers.Distinct().Select(r => r.WithTtl(Math.Min(r.Ttl, 10)))],
                Additionals = [.. additionals.Distinct().Select(r => r.WithTtl(Math.Min(r.Ttl, 10)))],
            };
        }

        return new DnsMessage { IsResponse = true, Answers = [.. answers.Distinct()], Additionals = [.. additionals.Distinct()] };

        void AnswerQuestion(DnsQuestion question)
        {
            var any = question.Type == DnsType.Any;
            if (Same(question.Name, ServiceEnumeration) && (any || question.Type == DnsType.Ptr))
            {
                answers.Add(new PtrRecord(ServiceEnumeration, SharedTtl, ServiceType));
            }
            else if (Same(question.Name, ServiceType) && (any || question.Type == DnsType.Ptr))
            {
                if (!KnownAnswer(query, records[0]))
                {
                    answers.Add(records[0]);
                    additionals.AddRange(records.Skip(1));
                }
            }
            else if (Same(question.Name, InstanceFqdn))
            {
                answers.AddRange(records.Skip(1).Take(2).Where(r => any || r.Type == question.Type));
                additionals.AddRange(records.Skip(3));
            }
            else if (Same(question.Name, HostName))
            {
                answers.AddRange(records.Skip(3).Where(r => any || r.Type == question.Type));
            }
        }
    }

    /// <summary>Known-answer suppression (RFC 6762 section 7.1): the querier already has our record with over half its TTL.</summary>
    private static bool KnownAnswer(DnsMessage query, DnsRecord record) =>
        query.Answers.Any(known => known is PtrRecord ptr && record is PtrRecord ours
            && Same(ptr.Name, ours.Name) && Same(ptr.Target, ours.Target) && ptr.Ttl > ours.Ttl / 2);

    private static bool Same(string a, string b) => string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

    private async Task SendSafelyAsync(MdnsTransport transport, DnsMessage message, IPEndPoint? to, CancellationToken cancellationToken)
    {
        try
        {
            await transport.SendAsync(message, to, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            _logger.LogDebug(exception, "mDNS send on {Interface} failed.", transport.InterfaceAddress);
        }
        catch (InvalidOperationException exception)
        {
            // A response that cannot be encoded (it would not fit a packet) is not sent; the loop answers on.
            _logger.LogDebug(exception, "mDNS response on {Interface} not sent.", transport.InterfaceAddress);
        }
    }

    /// <summary>Says goodbye (TTL 0) on every interface, then closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        foreach (var transport in _transports)
        {
            var goodbye = new DnsMessage { IsResponse = true, Answers = [.. Records(transport.InterfaceAddress).Select(r => r.WithTtl(0))] };
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await SendSafelyAsync(transport, goodbye, null, limit.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var transport in _transports)
        {
            transport.Dispose();
        }

        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>
    /// The TXT entries: the WebSocket path and protocol version first, then <c>name</c>, then the other details
    /// whose values are strings, numbers or booleans, while they fit (255 bytes an entry, 1300 in all). Keys
    /// follow RFC 6763 section 6.4: printable US-ASCII without '=', each key once whatever its case. What is
    /// left out, and why, comes back in <see cref="TxtContent.LeftOut"/>.
    /// </summary>
    internal static TxtContent BuildTxt(string path, JsonObject details)
    {
        var entries = new List<string> { $"path={path}", "v=1" };
        var keys = new HashSet<string>(["path", "v"], StringComparer.OrdinalIgnoreCase);
        var leftOut = new List<string>();
        var total = entries.Sum(e => Encoding.UTF8.GetByteCount(e) + 1);
        var ordered = details.Where(entry => entry.Key == "name").Concat(details.Where(entry => entry.Key != "name"));
        foreach (var (key, value) in ordered)
        {
            var text = value is JsonValue scalar ? scalar.GetValueKind() switch
            {
                JsonValueKind.String => scalar.GetValue<string>(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => scalar.ToJsonString(),
                _ => null,
            } : null;
            var entry = $"{key}={text}";
            var size = Encoding.UTF8.GetByteCount(entry);
            var why = key.Length == 0 || !key.All(c => c is >= ' ' and <= '~' and not '=') ? "its key is not printable ASCII without '='"
                : !keys.Add(key) ? "its key is already used (TXT keys ignore case)"
                : text is null ? "it is not a string, number or boolean"
                : size > MaxTxtEntryBytes ? $"the entry is {size} bytes, more than {MaxTxtEntryBytes}"
                : total + size + 1 > MaxTxtBytes ? $"the record would pass {MaxTxtBytes} bytes"
                : null;
            if (why is not null)
            {
                leftOut.Add($"'{key}' ({why})");
                continue;
            }

            entries.Add(entry);
            total += size + 1;
        }

        Debug.Assert(total <= MaxTxtBytes, "the TXT record stays within its budget");
        return new TxtContent(entries, leftOut);
    }

    /// <summary>What <see cref="BuildTxt"/> publishes, and each detail it left out with the reason.</summary>
    internal sealed record TxtContent(IReadOnlyList<string> Entries, IReadOnlyList<string> LeftOut);

    /// <summary>An instance label: no dots (they would split it), at most 50 bytes so the suffix fits 63.</summary>
    private static string Sanitize(string name)
    {
        var cleaned = name.Replace('.', ' ').Trim();
        if (cleaned.Length == 0)
        {
            cleaned = "LocalWebSocket";
        }

        while (Encoding.UTF8.GetByteCount(cleaned) > 50)
        {
            cleaned = cleaned[..^1];
        }

        return cleaned;
    }
}
