using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Discovery;

/// <summary>
/// Finds local-websocket servers, Dart ones included, by probing <c>http://host:port/</c> on every host of
/// the targets: a host is a server when it answers 200 with exactly one <c>Server</c> header containing
/// <c>local-websocket</c> and a JSON object body.
/// </summary>
/// <remarks>
/// Probes run with bounded concurrency over one shared connection handler; each has one deadline for
/// connect, headers and body, and a cap on the body size, so a slow or hostile host costs one probe
/// timeout at most. Thread-safe.
/// </remarks>
public sealed class ServerScanner : IDisposable
{
    private readonly ScannerOptions _options;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly Internal.Telemetry.DiscoveryInstruments _instruments;

    /// <summary>Creates a scanner.</summary>
    /// <param name="options">Settings; copied.</param>
    /// <param name="timeProvider">The clock of the watch interval and the probe timeout; the system clock by default.</param>
    public ServerScanner(ScannerOptions? options = null, TimeProvider? timeProvider = null)
    {
        _options = (options ?? new ScannerOptions()).Snapshot();
        _time = timeProvider ?? TimeProvider.System;
        _instruments = Internal.Telemetry.ForDiscovery(_options.MeterFactory);
        _http = new HttpClient(new SocketsHttpHandler
        {
            // A proxy would send our probes elsewhere, and a redirect would make a non-server look like one.
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = _options.ProbeTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
            MaxConnectionsPerServer = 2,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The settings this scanner uses.</summary>
    /// <remarks>A copy, made at each read: changing it changes nothing in this scanner.</remarks>
    public ScannerOptions Options => _options.Snapshot();

    /// <summary>Probes every host of <paramref name="targets"/> once.</summary>
    /// <returns>The servers found, ordered by URL.</returns>
    public async Task<IReadOnlyList<DiscoveredServer>> ScanOnceAsync(IEnumerable<ScanTarget> targets, CancellationToken cancellationToken = default)
    {
        var found = new List<DiscoveredServer>();
        await foreach (var server in ScanAsync(targets, progress: null, cancellationToken).ConfigureAwait(false))
        {
            found.Add(server);
        }

        return Sorted(found);
    }

    /// <summary>
    /// Probes every host of <paramref name="targets"/> once and yields each server the moment it answers, so a
    /// caller can show it (or connect to it) without waiting for the slowest host of the subnet.
    /// </summary>
    /// <param name="targets">What to probe.</param>
    /// <param name="progress">Told after each probe how far the scan is; its handler must not block.</param>
    /// <param name="cancellationToken">Stops the scan.</param>
    public async IAsyncEnumerable<DiscoveredServer> ScanAsync(
        IEnumerable<ScanTarget> targets, IProgress<ScanProgress>? progress = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var hosts = targets.SelectMany(target => target.Hosts()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var found = System.Threading.Channels.Channel.CreateUnbounded<DiscoveredServer>(new() { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var probed = 0;
        var servers = 0;
        progress?.Report(new ScanProgress(0, hosts.Count, 0));
        var probing = ProbeAllAsync();
        try
        {
            await foreach (var server in found.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return server;
            }

            // Rethrows a cancellation the channel's end hid.
            await probing.ConfigureAwait(false);
        }
        finally
        {
            // The caller stopped early (found what it wanted) or failed: the remaining probes end with it.
            await stop.CancelAsync().ConfigureAwait(false);
            await probing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        async Task ProbeAllAsync()
        {
            try
            {
                await Parallel.ForEachAsync(
                    hosts,
                    new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = stop.Token },
                    async (host, token) =>
                    {
                        var server = await ProbeAsync(host, token).ConfigureAwait(false);
                        if (server is not null)
                        {
                            Interlocked.Increment(ref servers);
                            found.Writer.TryWrite(server);
                        }

                        progress?.Report(new ScanProgress(Interlocked.Increment(ref probed), hosts.Count, Volatile.Read(ref servers)));
                    }).ConfigureAwait(false);
            }
            finally
            {
                found.Writer.TryComplete();
            }
        }
    }

    /// <inheritdoc cref="ScanOnceAsync(IEnumerable{ScanTarget}, CancellationToken)"/>
    public Task<IReadOnlyList<DiscoveredServer>> ScanOnceAsync(ScanTarget target, CancellationToken cancellationToken = default) =>
        ScanOnceAsync([target], cancellationToken);

    /// <summary>
    /// Scans again and again, each scan starting <see cref="ScannerOptions.Interval"/> after the previous one
    /// started (or at once, when a scan took longer). Yields each new or changed server the moment it answers,
    /// and at the end of every round the servers that did not answer it (in <see cref="DiscoverySnapshot.Removed"/>;
    /// that snapshot comes every round, so a caller also learns when a round is over).
    /// </summary>
    public async IAsyncEnumerable<DiscoverySnapshot> WatchAsync(
        IReadOnlyList<ScanTarget> targets, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (snapshot, _) in WatchByServerAsync(targets, cancellationToken).ConfigureAwait(false))
        {
            yield return snapshot;
        }
    }

    /// <summary><see cref="WatchAsync"/>, with whether each snapshot ends a round.</summary>
    internal async IAsyncEnumerable<(DiscoverySnapshot Snapshot, bool RoundEnded)> WatchByServerAsync(
        IReadOnlyList<ScanTarget> targets, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var known = new Dictionary<Uri, DiscoveredServer>();
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = _time.GetTimestamp();
            var answered = new Dictionary<Uri, DiscoveredServer>();
            await foreach (var server in ScanAsync(targets, progress: null, cancellationToken).ConfigureAwait(false))
            {
                answered[server.Url] = server;
                var isNew = !known.TryGetValue(server.Url, out var before);
                if (isNew || !before!.SameAs(server))
                {
                    known[server.Url] = server;

                    // Until the round ends, a server that has not answered it yet is still listed: it may answer later.
                    yield return (new DiscoverySnapshot(Sorted(known.Values), isNew ? [server] : [], [], isNew ? [] : [server]), false);
                }
            }

            var removed = known.Values.Where(server => !answered.ContainsKey(server.Url)).ToList();
            known = answered;
            yield return (new DiscoverySnapshot(Sorted(known.Values), [], removed, []), true);

            var remaining = _options.Interval - _time.GetElapsedTime(started);
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static List<DiscoveredServer> Sorted(IEnumerable<DiscoveredServer> servers) =>
        [.. servers.OrderBy(server => server.Url.ToString(), StringComparer.Ordinal)];

    /// <summary>Probes one host; null when it is not a local-websocket server or did not answer in time.</summary>
    public async Task<DiscoveredServer?> ProbeAsync(string host, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        // One deadline for connect, headers and body, on the scanner's clock.
        using var timeout = new CancellationTokenSource(_options.ProbeTimeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var clock = Stopwatch.StartNew();
        var authority = IPAddress.TryParse(host, out var literal) && literal.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        _instruments.Probes.Add(1, Internal.Telemetry.Scan);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{authority}:{_options.Port}/");
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK
                || !response.Headers.NonValidated.TryGetValues("Server", out var servers)
                || servers.Count != 1
                || !servers.ToString().Contains(ProtocolConstants.ServerHeaderToken, StringComparison.Ordinal))
            {
                return null;
            }

            var body = await ReadCappedAsync(response.Content, deadline.Token).ConfigureAwait(false);
            if (body is null)
            {
                return null;
            }

            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var address = literal ?? await ResolveAsync(host, deadline.Token).ConfigureAwait(false);
            _instruments.ServersFound.Add(1, Internal.Telemetry.Scan);
            return new DiscoveredServer(
                new UriBuilder("ws", authority.Trim('[', ']'), _options.Port, ProtocolConstants.WebSocketPath).Uri,
                address,
                _options.Port,
                document.RootElement,
                DiscoverySource.Scan,
                clock.Elapsed);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or JsonException or IOException or SocketException)
        {
            // Not a server, not there, or too slow: all the same to a scan.
            cancellationToken.ThrowIfCancellationRequested();
            return null;
        }
    }

    /// <summary>The body, or null when it is larger than the cap.</summary>
    private async Task<byte[]?> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > _options.MaxBodySize)
        {
            return null;
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[_options.MaxBodySize + 1];
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer.AsSpan(0, filled).ToArray();
                }

                filled += read;
            }

            return null;
        }
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
    }

    /// <summary>Releases the shared connection handler.</summary>
    public void Dispose() => _http.Dispose();
}
