using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// Advertises one server as a DNS-SD service (<c>_localws._tcp.local.</c>) on chosen interfaces: claims its
/// instance and host names by probing (RFC 6762 section 8) and renames on conflict as Bonjour does
/// (<c>Game Room (2)</c>, <c>host-lws-2.local.</c>), announces with the cache-flush bit, answers queries,
/// goes back to probing when another host later claims one of its names (section 9), and says goodbye
/// (TTL 0) when disposed. Runs over IPv4 (224.0.0.251) and IPv6 (ff02::fb) on each link that has them, and
/// follows the links as they change: an address that goes gets a goodbye, a link that changes or comes up is
/// probed and announced again (section 8: a link change is a reason to probe).
/// </summary>
/// <remarks>
/// Probes do not set the QU bit (section 8.1 suggests it): port 5353 is shared by every responder on the
/// machine (address reuse), and the kernel hands a unicast reply to only one of those sockets, which may
/// not be ours, so a conflict answered by unicast could be missed. Multicast answers reach every socket.
/// </remarks>
internal sealed class MdnsAdvertiser : IAsyncDisposable
{
    public const string ServiceType = "_localws._tcp.local.";

    private const string ServiceEnumeration = "_services._dns-sd._udp.local.";
    private const int MaxTxtBytes = 1300;

    /// <summary>A TXT entry's length is one byte (RFC 6763 section 6.1).</summary>
    private const int MaxTxtEntryBytes = 255;
    private const uint SharedTtl = 4500;
    private const uint UniqueTtl = 120;

    /// <summary>RFC 6762 section 8.1: three probes 250 ms apart, the first after a random 0-250 ms.</summary>
    private const int ProbeCount = 3;
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Section 8.2: the loser of a tie-break between simultaneous probes probes again a second later.</summary>
    private static readonly TimeSpan TieBreakWait = TimeSpan.FromSeconds(1);

    /// <summary>Section 8.1: after fifteen conflicts within ten seconds, each further probe waits five seconds.</summary>
    private const int ConflictBurst = 15;
    private static readonly TimeSpan ConflictBurstWindow = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ConflictBackoff = TimeSpan.FromSeconds(5);

    /// <summary>Section 8.3: the second announcement a second after the first.</summary>
    private static readonly TimeSpan AnnounceInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most renames before advertising gives up: anyone on the link can claim every name, and this bounds
    /// the loop (with the backoff above, about eight minutes of probing).
    /// </summary>
    internal const int MaxRenames = 100;

    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _port;
    private readonly string _path;
    private readonly string _instanceBase;
    private readonly string _hostBase;
    private readonly IPAddress? _listenAddress;
    private readonly TaskCompletionSource _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TxtContent _txt;
    private Task _claimLoop = Task.CompletedTask;

    // The links advertised on, each with its transports and answer loops: replaced (never changed in place)
    // only by StartAsync before the claim loop runs and then by the claim loop, when the interfaces change;
    // read by anyone. _pinned is the links asked for (null: every suitable interface, as it comes and goes).
    // _ownAddresses (this machine's addresses, unscoped, for telling our records from a rival's) is replaced
    // with them.
    private volatile IReadOnlyList<AdvertisedLink> _links = [];
    private volatile IReadOnlySet<IPAddress> _ownAddresses = new HashSet<IPAddress>();
    private IReadOnlyList<MdnsLink>? _pinned;

    // Set by NetworkChange's event (any thread), read by the claim loop, which then re-reads the interfaces.
    private readonly Channel<bool> _linksChanged = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    // Written only by the claim loop (RunAsync); the answer loops read them and report what they hear to
    // _events, which only the claim loop reads. _announced is true from the first announcement of the
    // current names until a conflict sends them back to probing: only then are queries answered.
    private volatile string _instanceName;
    private volatile string _hostName;
    private volatile bool _announced;
    private readonly Channel<NameEvent> _events = Channel.CreateBounded<NameEvent>(
        new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <param name="name">The instance name wanted (renamed on conflict).</param>
    /// <param name="port">The server's port (the SRV record's).</param>
    /// <param name="path">The WebSocket path (the TXT record's <c>path</c>).</param>
    /// <param name="details">The details the TXT record carries.</param>
    /// <param name="logger">Where to log.</param>
    /// <param name="timeProvider">The clock of probing and announcing.</param>
    /// <param name="listenAddress">
    /// The server's listen address, which decides the addresses published: <c>0.0.0.0</c> the links' IPv4 ones,
    /// <c>::</c> (dual mode) and null IPv4 and IPv6, a specific address only that one, so that a browser never
    /// gets an address the server does not accept connections on.
    /// </param>
    public MdnsAdvertiser(string name, int port, string path, JsonObject details, ILogger? logger = null, TimeProvider? timeProvider = null, IPAddress? listenAddress = null)
    {
        _listenAddress = listenAddress;
        _instanceName = Sanitize(name);

        // A name that is already a rename ("Room (2)", as a user may copy it from a browser) goes on from its
        // number, as Bonjour does: "Room (3)", not "Room (2) (2)".
        var renamed = System.Text.RegularExpressions.Regex.Match(_instanceName, @"^(.+) \(([2-9]|[1-9][0-9]+)\)$");
        _instanceBase = renamed.Success ? renamed.Groups[1].Value : _instanceName;
        _hostBase = HostLabel(Environment.MachineName);
        _hostName = _hostBase + ".local.";
        _port = port;
        _path = path;
        _txt = BuildTxt(path, details);
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The service instance label, e.g. <c>Game Room</c>, or <c>Game Room (2)</c> when another host had that name.</summary>
    public string InstanceName => _instanceName;

    public string InstanceFqdn => $"{InstanceName}.{ServiceType}";

    /// <summary>The host name the SRV record points at, e.g. <c>kiosk-lws.local.</c>.</summary>
    public string HostName => _hostName;

    /// <summary>The details the TXT record leaves out, each with why (empty when all fit).</summary>
    public IReadOnlyList<string> DetailsLeftOut => Volatile.Read(ref _txt).LeftOut;

    /// <summary>How many conflict or tie-break reports wait for the claim loop (for tests).</summary>
    internal int PendingNameEvents => _events.Reader.Count;

    /// <summary>The links advertised on now, as users name them (<c>192.168.1.20</c>, <c>eth0</c> for one without IPv4), each with its families.</summary>
    public string LinksDescription => string.Join(", ", _links.Select(link =>
        $"{link.Link} ({string.Join("+", link.Transports.Select(t => t.Family == System.Net.Sockets.AddressFamily.InterNetwork ? "IPv4" : "IPv6"))})"));

    /// <summary>
    /// Opens the interfaces that hold <paramref name="interfaces"/> (none: every suitable one, see
    /// <see cref="MdnsLink.Defaults"/>), probes until its names are its own, and announces.
    /// </summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on an interface, or no free name was found.</exception>
    public async Task StartAsync(IReadOnlyList<IPAddress> interfaces, CancellationToken cancellationToken)
    {
        _pinned = interfaces.Count > 0 ? MdnsLink.For(interfaces) : null;
        var links = new List<AdvertisedLink>();
        try
        {
            foreach (var link in _pinned ?? MdnsLink.Defaults())
            {
                if (OpenLink(link, required: true) is { } opened)
                {
                    links.Add(opened);
                }
            }
        }
        catch
        {
            await Task.WhenAll(links.Select(CloseLinkAsync)).ConfigureAwait(false);
            throw;
        }

        _links = links;
        _ownAddresses = MachineAddresses();
        if (links.Count == 0)
        {
            // A device that starts before its network (a kiosk at boot, a phone joining Wi-Fi): it advertises
            // as soon as a suitable interface comes up.
            _logger.NoInterfaceYet();
        }

        WatchInterfaces(true);
        _claimLoop = RunAsync(_stop.Token);
        await _claimed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Subscribes to (or from) the operating system's address-change notice, where the platform has one.</summary>
    private void WatchInterfaces(bool watch)
    {
        try
        {
            if (watch)
            {
                System.Net.NetworkInformation.NetworkChange.NetworkAddressChanged += OnAddressChanged;
            }
            else
            {
                System.Net.NetworkInformation.NetworkChange.NetworkAddressChanged -= OnAddressChanged;
            }
        }
        catch (Exception exception) when (exception is PlatformNotSupportedException or System.Net.NetworkInformation.NetworkInformationException)
        {
            // Some sandboxes give no notice: the links stay as they were at start.
            _logger.NoChangeNotices(exception);
        }
    }

    private void OnAddressChanged(object? sender, EventArgs e) => _linksChanged.Writer.TryWrite(true);

    /// <summary>
    /// Opens a link: its IPv4 transport when it has an IPv4 address, its IPv6 one when it runs IPv6 multicast,
    /// each with an answer loop. A family that cannot be opened is skipped while the other works. Null when
    /// nothing opens or the server publishes no address there (a 0.0.0.0 server on a link with IPv6 only);
    /// with <paramref name="required"/> (a link the caller named, at start), either throws, saying why.
    /// </summary>
    private AdvertisedLink? OpenLink(MdnsLink link, bool required)
    {
        var transports = new List<MdnsTransport>();
        LocalWebSocketException? failure = null;
        foreach (var family in link.Families)
        {
            try
            {
                transports.Add(MdnsTransport.Open(link, family));
            }
            catch (LocalWebSocketException exception)
            {
                failure ??= exception;
                _logger.FamilyUnavailable(exception, family, link.Name);
            }
        }

        var published = Published(link);
        if (transports.Count == 0 || published.Count == 0)
        {
            transports.ForEach(transport => transport.Dispose());
            if (required)
            {
                throw failure ?? new LocalWebSocketException(
                    LocalWebSocketErrorCode.ConnectionFailed,
                    transports.Count == 0
                        ? $"Interface {link} has no address mDNS can use."
                        : $"Nothing to advertise on interface {link}: the server listens on {_listenAddress}, which it does not reach (listen on :: to be reachable over IPv6 too).");
            }

            return null;
        }

        var stop = new CancellationTokenSource();
        var advertised = new AdvertisedLink(link, published, transports, stop);
        advertised.Loops = [.. transports.Select(transport => AnswerLoopAsync(advertised, transport, stop.Token))];
        return advertised;
    }

    private static async Task CloseLinkAsync(AdvertisedLink link)
    {
        await link.Stop.CancelAsync().ConfigureAwait(false);
        foreach (var transport in link.Transports)
        {
            transport.Dispose();
        }

        await Task.WhenAll(link.Loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        link.Stop.Dispose();
    }

    /// <summary>The addresses this server's A and AAAA records give on <paramref name="link"/>: those it accepts connections on.</summary>
    private IReadOnlyList<IPAddress> Published(MdnsLink link) => _listenAddress switch
    {
        null => [.. link.Addresses],
        _ when _listenAddress.Equals(IPAddress.IPv6Any) => [.. link.Addresses],
        _ when _listenAddress.Equals(IPAddress.Any) => link.IPv4 is { } ipv4 ? [ipv4] : [],
        _ => link.Addresses.Any(address => Unscoped(address).Equals(Unscoped(_listenAddress)))
            || (link.IsLoopback && IPAddress.IsLoopback(_listenAddress)) ? [_listenAddress] : [],
    };

    private static HashSet<IPAddress> MachineAddresses() => [.. Internal.LocalNetwork.Addresses().Select(a => Unscoped(a.Address))];

    /// <summary>
    /// Re-reads the interfaces after a change notice. A link whose addresses changed is reopened (its IPv4
    /// socket is bound to the old address), and the records of addresses it no longer has get a goodbye
    /// through the new sockets; a link that went gets a goodbye for everything (it cannot be sent when the
    /// interface is down, and is tried anyway); new links open. True when any link changed: the names are
    /// then probed and announced again. Not cancelled midway, so no link is left open outside the list.
    /// </summary>
    private async Task<bool> ApplyLinkChangesAsync()
    {
        var wanted = _pinned is null ? MdnsLink.Defaults() : [.. _pinned.Select(link => link.Now()).OfType<MdnsLink>()];
        var current = _links;
        var next = new List<AdvertisedLink>();
        var changed = false;
        foreach (var link in current)
        {
            var now = wanted.FirstOrDefault(w => w.Name == link.Link.Name);
            if (now is not null && now.Index == link.Link.Index && now.SameAddresses(link.Link))
            {
                next.Add(link);
                continue;
            }

            changed = true;
            var reopened = now is null ? null : OpenLink(now, required: false);
            if (_announced)
            {
                var kept = reopened?.Published.Select(Unscoped).ToHashSet() ?? [];
                var gone = Records(link.Published).Where(record => reopened is null || (record is AddressRecord address && !kept.Contains(Unscoped(address.Address))));
                var goodbye = new DnsMessage { IsResponse = true, Answers = [.. gone.Select(record => record.WithTtl(0))] };
                if (goodbye.Answers.Count > 0)
                {
                    _logger.LinkChanged(link.Link.Name, goodbye.Answers.Count);
                    await SendToLinkAsync(reopened ?? link, goodbye).ConfigureAwait(false);
                }
            }

            await CloseLinkAsync(link).ConfigureAwait(false);
            if (reopened is not null)
            {
                next.Add(reopened);
            }
        }

        foreach (var link in wanted.Where(w => !current.Any(c => c.Link.Name == w.Name)))
        {
            if (OpenLink(link, required: false) is { } opened)
            {
                changed = true;
                next.Add(opened);
            }
        }

        _ownAddresses = MachineAddresses();
        _links = next;
        return changed;
    }

    /// <summary>Sends on every transport of a link, each within a second whatever happens.</summary>
    private async Task SendToLinkAsync(AdvertisedLink link, DnsMessage message)
    {
        foreach (var transport in link.Transports)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await SendSafelyAsync(transport, message, null, limit.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Publishes new details in the TXT record (in place when this returns its task) and announces the change.</summary>
    public async Task UpdateDetailsAsync(JsonObject details, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _txt, BuildTxt(_path, details));
        if (_announced)
        {
            await AnnounceAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Claims the names and keeps them: probe, announce twice, then wait for a conflict (section 9), which
    /// sends the names back to probing (the other host answers the probes if it holds them, and we rename).
    /// </summary>
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var conflicts = new Queue<DateTimeOffset>();
        var renames = 0;
        var wait = StartupWait();
        try
        {
            while (true)
            {
                var heard = await ProbeAsync(wait, cancellationToken).ConfigureAwait(false);
                if (heard is null)
                {
                    _announced = true;
                    await AnnounceAsync(cancellationToken).ConfigureAwait(false);
                    _claimed.TrySetResult();
                    heard = await NextConflictAsync(AnnounceInterval, cancellationToken).ConfigureAwait(false);
                    if (heard is null)
                    {
                        await AnnounceAsync(cancellationToken).ConfigureAwait(false);
                        heard = await NextConflictAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
                    }

                    _announced = false;
                    if (heard!.Kind == NameEventKind.LinksChanged)
                    {
                        wait = StartupWait();
                        continue;
                    }

                    _logger.NameContested(heard.Name);

                    // Counted like a rename: a host that keeps contradicting us without ever defending the name
                    // (it answers no probe) gets no more than 15 rounds of probes in 10 s.
                    wait = AfterConflict();
                    continue;
                }

                if (heard.Kind == NameEventKind.LostTieBreak)
                {
                    wait = TieBreakWait;
                    continue;
                }

                if (heard.Kind == NameEventKind.LinksChanged)
                {
                    // The probes so far went out on links that are not all there any more: start over.
                    wait = StartupWait();
                    continue;
                }

                if (++renames > MaxRenames)
                {
                    throw new LocalWebSocketException(
                        LocalWebSocketErrorCode.NameConflict,
                        $"No free mDNS name after {MaxRenames} renames: other hosts on the link claim {_instanceBase} and the names after it. Clients can still find this server by scanning.");
                }

                Rename(heard.Kind);
                wait = AfterConflict();
            }
        }
        catch (OperationCanceledException)
        {
            _claimed.TrySetCanceled(cancellationToken);
        }
        catch (Exception exception)
        {
            _announced = false;
            _claimed.TrySetException(exception);
            _logger.AdvertisingStopped(exception);
        }

        // Section 8.1: the first probe after a random 0-250 ms, so hosts that start (or see a link come up) together do not probe at once.
        static TimeSpan StartupWait() => TimeSpan.FromMilliseconds(Random.Shared.Next(1, 251));

        // Section 8.1: after fifteen conflicts within ten seconds, each further probe waits five seconds.
        TimeSpan AfterConflict()
        {
            var now = _time.GetUtcNow();
            conflicts.Enqueue(now);
            while (now - conflicts.Peek() > ConflictBurstWindow)
            {
                conflicts.Dequeue();
            }

            return conflicts.Count >= ConflictBurst ? ConflictBackoff : TimeSpan.Zero;
        }
    }

    /// <summary>
    /// Waits <paramref name="wait"/>, then probes three times (section 8.1); null when nobody objected, else
    /// what was heard against the names being probed.
    /// </summary>
    private async Task<NameEvent?> ProbeAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        // What was heard about earlier names is no longer news.
        while (_events.Reader.TryRead(out _))
        {
        }

        if (await NextEventAsync(wait, cancellationToken).ConfigureAwait(false) is { } early)
        {
            return early;
        }

        for (var probe = 0; probe < ProbeCount; probe++)
        {
            foreach (var link in _links)
            {
                var message = Probe(link.Published);
                foreach (var transport in link.Transports)
                {
                    await SendSafelyAsync(transport, message, null, cancellationToken).ConfigureAwait(false);
                }
            }

            if (await NextEventAsync(ProbeInterval, cancellationToken).ConfigureAwait(false) is { } heard)
            {
                return heard;
            }
        }

        return null;
    }

    /// <summary>A probe: "any records for these names?", with the records we propose in the authority section (section 8.2).</summary>
    private DnsMessage Probe(IReadOnlyList<IPAddress> published)
    {
        var records = Records(published);
        return new DnsMessage
        {
            Questions = [new DnsQuestion(InstanceFqdn, DnsType.Any), new DnsQuestion(HostName, DnsType.Any)],
            Authorities = [.. records.Skip(1)],
        };
    }

    /// <summary>The next conflict with an announced name (or a change of links) within <paramref name="timeout"/>; a lost tie-break is not one.</summary>
    private async Task<NameEvent?> NextConflictAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = timeout == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : _time.GetUtcNow() + timeout;
        while (true)
        {
            var left = until == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : until - _time.GetUtcNow();
            if (left != Timeout.InfiniteTimeSpan && left <= TimeSpan.Zero)
            {
                return null;
            }

            var heard = await NextEventAsync(left, cancellationToken).ConfigureAwait(false);
            if (heard is null || heard.Kind != NameEventKind.LostTieBreak)
            {
                return heard;
            }
        }
    }

    /// <summary>
    /// The next event about the current names, or null when <paramref name="timeout"/> passes first (on the
    /// advertiser's clock). A change notice is applied here, by the claim loop, and is an event when a link changed.
    /// </summary>
    private async Task<NameEvent?> NextEventAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var timer = timeout == Timeout.InfiniteTimeSpan
            ? Task.Delay(Timeout.Infinite, wake.Token)
            : Task.Delay(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero, _time, wake.Token);
        try
        {
            while (true)
            {
                while (_events.Reader.TryRead(out var heard))
                {
                    // An answer loop may have judged a packet against the names before a rename.
                    if (Same(heard.Name, heard.Kind == NameEventKind.HostConflict ? HostName : InstanceFqdn))
                    {
                        return heard;
                    }
                }

                if (_linksChanged.Reader.TryRead(out _))
                {
                    if (await ApplyLinkChangesAsync().ConfigureAwait(false))
                    {
                        return new NameEvent(NameEventKind.LinksChanged, "");
                    }

                    continue;
                }

                var readable = _events.Reader.WaitToReadAsync(wake.Token).AsTask();
                var linksChanged = _linksChanged.Reader.WaitToReadAsync(wake.Token).AsTask();
                if (await Task.WhenAny(timer, readable, linksChanged).ConfigureAwait(false) == timer)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    return null;
                }
            }
        }
        finally
        {
            await wake.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Takes the next name after a conflict: <c>Name (2)</c>, <c>Name (3)</c>...; <c>host-2</c>, <c>host-3</c>... (as Bonjour does).</summary>
    private void Rename(NameEventKind kind)
    {
        var old = kind == NameEventKind.HostConflict ? HostName : InstanceName;
        if (kind == NameEventKind.HostConflict)
        {
            _hostName = $"{_hostBase}-{NextNumber(_hostName[..^".local.".Length], _hostBase, '-')}.local.";
        }
        else
        {
            _instanceName = $"{_instanceBase} ({NextNumber(_instanceName, _instanceBase, ' ')})";
        }

        var now = kind == NameEventKind.HostConflict ? HostName : InstanceName;
        _logger.NameTaken(old, now);

        static int NextNumber(string current, string baseName, char separator)
        {
            // "Name (n)" / "host-n" carry n after the base; the base itself is number 1.
            var rest = current[baseName.Length..].Trim().Trim('(', ')', separator);
            return int.TryParse(rest, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n + 1 : 2;
        }
    }

    private async Task AnnounceAsync(CancellationToken cancellationToken)
    {
        foreach (var link in _links)
        {
            var announcement = new DnsMessage { IsResponse = true, Answers = [.. Records(link.Published)] };
            foreach (var transport in link.Transports)
            {
                await SendSafelyAsync(transport, announcement, null, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// All records this service publishes on one link: PTR, SRV, TXT, then the host's address records, one for
    /// each of <paramref name="published"/> (A or AAAA).
    /// </summary>
    private List<DnsRecord> Records(IReadOnlyList<IPAddress> published) =>
    [
        new PtrRecord(ServiceType, SharedTtl, InstanceFqdn),
        new SrvRecord(InstanceFqdn, UniqueTtl, true, 0, 0, (ushort)_port, HostName),
        new TxtRecord(InstanceFqdn, SharedTtl, true, Volatile.Read(ref _txt).Entries),
        .. published.Select(address => new AddressRecord(HostName, UniqueTtl, true, Unscoped(address))),
    ];

    private async Task AnswerLoopAsync(AdvertisedLink link, MdnsTransport transport, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessage.MaxPacketSize];
        var held = new HeldQueries();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (query, from) = await transport.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (query.IsResponse)
                {
                    ReportConflicts(query);
                    continue;
                }

                if (!_announced)
                {
                    // Probing: nothing of ours is answered yet; another host probing for our names is a tie to break.
                    ReportTieBreak(query, link.Published);
                    continue;
                }

                // Section 7.2: a query with the TC bit has more known answers coming from the same sender.
                switch (held.Add(from, query, out var whole))
                {
                    case HeldQueries.Outcome.StartedWaiting:
                        _ = AnswerWhenWaitEndsAsync(link, transport, held, from, whole, cancellationToken);
                        break;
                    case HeldQueries.Outcome.Complete:
                        await AnswerAsync(link, transport, whole, from, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (System.Net.Sockets.SocketException exception)
            {
                _logger.ReceiveFailed(exception, transport);
                await Task.Delay(100, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task AnswerAsync(AdvertisedLink link, MdnsTransport transport, DnsMessage query, IPEndPoint from, CancellationToken cancellationToken)
    {
        var legacy = from.Port != MdnsTransport.Port;
        if (query.Questions.Count > 0 && Answer(query, link.Published, legacy) is { } response)
        {
            await SendSafelyAsync(transport, response, legacy ? from : null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Answers a held query when its sender's further known-answer packets have had 400-500 ms to come (section 7.2).</summary>
    private async Task AnswerWhenWaitEndsAsync(AdvertisedLink link, MdnsTransport transport, HeldQueries held, IPEndPoint from, DnsMessage first, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(400, 501)), _time, cancellationToken).ConfigureAwait(false);
            if (held.TakeIfStillHeld(from, first) is { } whole)
            {
                await AnswerAsync(link, transport, whole, from, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// The queries of one interface that wait for more known answers (section 7.2), by sender. Bounded: at most
    /// <see cref="MaxSenders"/> senders wait at once and a query gathers at most <see cref="MaxPackets"/>
    /// packets; past either, it is answered at once with what came. Thread-safe: the answer loop adds, the
    /// wait's task takes.
    /// </summary>
    private sealed class HeldQueries
    {
        private const int MaxSenders = 64;
        private const int MaxPackets = 16;

        // Guarded by _gate: per sender, the first packet (which identifies the wait) and all gathered so far.
        private readonly Dictionary<IPEndPoint, (DnsMessage First, List<DnsMessage> Packets)> _held = [];
        private readonly Lock _gate = new();

        public enum Outcome
        {
            /// <summary>The query waits; answer it when the wait ends.</summary>
            StartedWaiting,

            /// <summary>More known answers joined a waiting query, which waits on.</summary>
            Gathered,

            /// <summary>Answer the query now.</summary>
            Complete,
        }

        /// <summary>Adds a query packet; <paramref name="whole"/> is the query to answer (now, or when the wait ends).</summary>
        public Outcome Add(IPEndPoint from, DnsMessage packet, out DnsMessage whole)
        {
            lock (_gate)
            {
                if (_held.TryGetValue(from, out var waiting))
                {
                    waiting.Packets.Add(packet);
                    if (packet.Truncated && waiting.Packets.Count < MaxPackets)
                    {
                        whole = waiting.First;
                        return Outcome.Gathered;
                    }

                    _held.Remove(from);
                    whole = Merge(waiting.Packets);
                    return Outcome.Complete;
                }

                whole = packet;
                if (!packet.Truncated || _held.Count >= MaxSenders)
                {
                    return Outcome.Complete;
                }

                _held[from] = (packet, [packet]);
                return Outcome.StartedWaiting;
            }
        }

        /// <summary>The gathered query, if the wait that <paramref name="first"/> started is still on.</summary>
        public DnsMessage? TakeIfStillHeld(IPEndPoint from, DnsMessage first)
        {
            lock (_gate)
            {
                if (!_held.TryGetValue(from, out var waiting) || !ReferenceEquals(waiting.First, first))
                {
                    return null;
                }

                _held.Remove(from);
                return Merge(waiting.Packets);
            }
        }

        private static DnsMessage Merge(List<DnsMessage> packets) => new()
        {
            Id = packets[0].Id,
            Questions = [.. packets.SelectMany(p => p.Questions)],
            Answers = [.. packets.SelectMany(p => p.Answers)],
        };
    }

    /// <summary>
    /// Section 9: a response that gives one of our names other data (an SRV record for our instance that is not
    /// ours, an address for our host that is not this machine's) is a conflict. Copies of our own records
    /// (our announcements heard back, another process on this machine sharing the host name) are not; nor are
    /// goodbyes. Only SRV is compared for the instance: a TXT record of ours still on its way when the details
    /// change would look like someone else's.
    /// </summary>
    internal void ReportConflicts(DnsMessage response)
    {
        var instance = InstanceFqdn;
        var host = HostName;
        foreach (var record in response.AllRecords)
        {
            if (record.Ttl == 0)
            {
                continue;
            }

            if (record is SrvRecord srv && Same(srv.Name, instance)
                && (srv.Port != _port || !Same(srv.Target, host) || srv.Priority != 0 || srv.Weight != 0))
            {
                _events.Writer.TryWrite(new NameEvent(NameEventKind.InstanceConflict, instance));
            }
            else if (record is AddressRecord address && Same(address.Name, host) && !_ownAddresses.Contains(Unscoped(address.Address)))
            {
                _events.Writer.TryWrite(new NameEvent(NameEventKind.HostConflict, host));
            }
        }
    }

    /// <summary>
    /// Section 8.2: another host probes for a name we are probing for. The records each proposes for the name
    /// are compared (sorted, by class, type, then data as bytes); the lexicographically later set wins, and the
    /// loser waits a second and probes again. Identical sets are our own probe heard back (or a host proposing
    /// exactly our records), not a tie.
    /// </summary>
    internal void ReportTieBreak(DnsMessage query, IReadOnlyList<IPAddress> published)
    {
        if (query.Authorities.Count == 0)
        {
            return;
        }

        var ours = Records(published).Skip(1).ToList();
        foreach (var name in new[] { InstanceFqdn, HostName })
        {
            var theirs = query.Authorities.Where(r => Same(r.Name, name)).ToList();
            if (theirs.Count > 0 && CompareProposals(ours.Where(r => Same(r.Name, name)), theirs) < 0)
            {
                _events.Writer.TryWrite(new NameEvent(NameEventKind.LostTieBreak, name));
            }
        }
    }

    /// <summary>Compares two proposals for one name as section 8.2 says; negative when <paramref name="ours"/> loses.</summary>
    internal static int CompareProposals(IEnumerable<DnsRecord> ours, IEnumerable<DnsRecord> theirs)
    {
        var left = Sorted(ours);
        var right = Sorted(theirs);
        for (var i = 0; i < Math.Min(left.Count, right.Count); i++)
        {
            var order = Compare(left[i], right[i]);
            if (order != 0)
            {
                return order;
            }
        }

        // Equal as far as both go: the one with more records is later.
        return left.Count.CompareTo(right.Count);

        // Every record here is class IN, so class never decides. A record whose data we do not read
        // (OtherRecord) compares by its type alone.
        static List<(ushort Type, byte[] Data)> Sorted(IEnumerable<DnsRecord> records) =>
            [.. records.Select(r => ((ushort)r.Type, r is OtherRecord ? Array.Empty<byte>() : DnsMessage.RData(r))).Order(Comparer<(ushort Type, byte[] Data)>.Create(Compare))];

        static int Compare((ushort Type, byte[] Data) a, (ushort Type, byte[] Data) b)
        {
            var order = a.Type.CompareTo(b.Type);
            return order != 0 ? order : a.Data.AsSpan().SequenceCompareTo(b.Data);
        }
    }

    private static IPAddress Unscoped(IPAddress address) => new(address.GetAddressBytes());

    /// <summary>The response to a query, or null when it asks nothing of ours.</summary>
    internal DnsMessage? Answer(DnsMessage query, IReadOnlyList<IPAddress> published, bool legacy)
    {
        var records = Records(published);
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
                Answers = [.. answers.Distinct().Select(Legacy)],
                Additionals = [.. additionals.Distinct().Select(Legacy)],
            };
        }

        return new DnsMessage { IsResponse = true, Answers = [.. answers.Distinct()], Additionals = [.. additionals.Distinct()] };

        // Section 10.2: no cache-flush bit in a response to a port other than 5353; section 6.7: TTLs of at most 10 s.
        static DnsRecord Legacy(DnsRecord record) => record.WithTtl(Math.Min(record.Ttl, 10)) with { CacheFlush = false };

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
            _logger.SendFailed(exception, transport);
        }
        catch (InvalidOperationException exception)
        {
            // A response that cannot be encoded (it would not fit a packet) is not sent; the loop answers on.
            _logger.ResponseNotSent(exception, transport);
        }
    }

    /// <summary>Says goodbye (TTL 0) on every link, then closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        // The claim loop ends first, so that the links stay as they are while the goodbyes go out.
        WatchInterfaces(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _claimLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // Goodbyes only for records browsers may hold: names still being probed were never announced.
        var links = _links;
        foreach (var link in _announced ? links : [])
        {
            await SendToLinkAsync(link, new DnsMessage { IsResponse = true, Answers = [.. Records(link.Published).Select(r => r.WithTtl(0))] }).ConfigureAwait(false);
        }

        await Task.WhenAll(links.Select(CloseLinkAsync)).ConfigureAwait(false);
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

    /// <summary>An instance label: no dots (they would split it), at most 50 bytes so that a rename's " (100)" fits 63.</summary>
    private static string Sanitize(string name)
    {
        var cleaned = name.Replace('.', ' ').Trim();
        return Truncate(cleaned.Length == 0 ? "LocalWebSocket" : cleaned, 50);
    }

    /// <summary>
    /// The host label: the machine's name, lower case, letters, digits and hyphens, with <c>-lws</c> after it, so
    /// that it never claims the name the operating system's own responder (Avahi, Bonjour) holds for the
    /// machine: a conflict there would rename the machine, not us.
    /// </summary>
    internal static string HostLabel(string machineName)
    {
        var cleaned = new string([.. machineName.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-')]).Trim('-');
        return Truncate(cleaned.Length == 0 ? "localwebsocket" : cleaned, 50) + "-lws";
    }

    private static string Truncate(string text, int maxBytes)
    {
        while (Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            // Never half of a surrogate pair.
            text = text[..(char.IsLowSurrogate(text[^1]) && text.Length > 1 ? ^2 : ^1)];
        }

        return text;
    }

    private enum NameEventKind
    {
        InstanceConflict,
        HostConflict,
        LostTieBreak,

        /// <summary>The links changed (an address went or came, an interface went or came up): probe and announce again.</summary>
        LinksChanged,
    }

    /// <summary>
    /// One link advertised on: its transports (IPv4 and/or IPv6), the addresses its A and AAAA records give, and
    /// the answer loops, which <see cref="Stop"/> ends. Never changed once <see cref="Loops"/> is set: a link
    /// that changes is closed and a new one opened.
    /// </summary>
    private sealed record AdvertisedLink(MdnsLink Link, IReadOnlyList<IPAddress> Published, IReadOnlyList<MdnsTransport> Transports, CancellationTokenSource Stop)
    {
        public IReadOnlyList<Task> Loops { get; set; } = [];
    }

    /// <summary>What an answer loop heard against <paramref name="Name"/>, the instance or host name it was judged against.</summary>
    private sealed record NameEvent(NameEventKind Kind, string Name);
}
