using LocalWebSocket.Internal;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LocalWebSocket.Discovery.Mdns;

namespace LocalWebSocket.Discovery;

/// <summary>
/// The one entry point of discovery: subnet scanning (which finds Dart <c>local_websocket</c> servers too)
/// and mDNS / DNS-SD browsing, merged and deduplicated by URL, as a stream of snapshots or one answer.
/// </summary>
/// <example>
/// <code>
/// using var discovery = new ServerDiscovery();
/// await foreach (var round in discovery.WatchAsync(cancellationToken))
///     foreach (var server in round.Added) Console.WriteLine(server.Url);
/// </code>
/// </example>
public sealed class ServerDiscovery : IDisposable
{
    private readonly DiscoveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ServerScanner _scanner;

    /// <summary>Creates a discovery with <paramref name="options"/> (scan and mDNS on every suitable interface by default).</summary>
    public ServerDiscovery(DiscoveryOptions? options = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new DiscoveryOptions();
        _time = timeProvider ?? TimeProvider.System;
        var scanner = _options.Scanner.Snapshot();
        scanner.MeterFactory ??= _options.MeterFactory;
        _scanner = new ServerScanner(scanner, _time);
    }

    /// <summary>
    /// Why mDNS is not part of the results, when browsing could not start (no multicast on the interface);
    /// scanning goes on without it.
    /// </summary>
    public LocalWebSocketException? MdnsError { get; private set; }

    /// <summary>
    /// Discovers continuously: yields each server the moment it first answers (or changes), whichever way it
    /// was found, and what the scan's rounds and mDNS expiry remove. The first snapshot comes at once when a
    /// server answers, and at the latest when the first scan round is over, even when nothing was found.
    /// </summary>
    public async IAsyncEnumerable<DiscoverySnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = Channel.CreateUnbounded<(DiscoverySource Source, IReadOnlyList<DiscoveredServer> Servers, bool RoundEnded)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producers = new List<Task>();
        if (_options.UseScan)
        {
            producers.Add(ProduceAsync(DiscoverySource.Scan, _scanner.WatchByServerAsync(Targets(), stop.Token), updates.Writer));
        }

        if (_options.UseMdns)
        {
            var rounds = new MdnsBrowser(MdnsInterfaces(), _time) { Instruments = Telemetry.ForDiscovery(_options.MeterFactory) }.WatchAsync(stop.Token).Select(static snapshot => (snapshot, true));
            producers.Add(ProduceAsync(DiscoverySource.Mdns, rounds, updates.Writer));
        }

        var latest = new Dictionary<DiscoverySource, IReadOnlyList<DiscoveredServer>>();
        var known = new Dictionary<Uri, DiscoveredServer>();

        // Without a scan, mDNS's first snapshot (its cache, empty at start) is the first answer.
        var firstRoundOver = !_options.UseScan;
        var yielded = false;
        try
        {
            while (await updates.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (updates.Reader.TryRead(out var update))
                {
                    latest[update.Source] = update.Servers;
                    firstRoundOver |= update.Source == DiscoverySource.Scan && update.RoundEnded;
                }

                var merged = Merge(latest.GetValueOrDefault(DiscoverySource.Scan, []), latest.GetValueOrDefault(DiscoverySource.Mdns, []));
                var snapshot = DiscoverySnapshot.Diff(known, merged, sourcesMatter: true);
                var changed = snapshot.Added.Count + snapshot.Removed.Count + snapshot.Changed.Count > 0;

                // An empty list before the first round is over would only say "not looked yet".
                if (changed || (!yielded && firstRoundOver))
                {
                    yielded = true;
                    known = merged.ToDictionary(server => server.Url);
                    yield return snapshot;
                }

                if (producers.All(p => p.IsCompleted) && updates.Reader.Count == 0)
                {
                    yield break;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(producers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// The first server that answers and matches <paramref name="predicate"/> (any server, without one),
    /// found by scan or mDNS, whichever is first; the pass stops as soon as it is found. Null when one pass of
    /// <see cref="DiscoverAsync"/> ends without a match.
    /// </summary>
    /// <param name="predicate">Which server is wanted, for example by its details' name; called on the discovery's loop, it must not block.</param>
    /// <param name="cancellationToken">Stops the search.</param>
    /// <example>
    /// <code>
    /// var kiosk = await discovery.FindFirstAsync(s => s.Details.TryGetProperty("name", out var n) &amp;&amp; n.GetString() == "kiosk");
    /// </code>
    /// </example>
    public async Task<DiscoveredServer?> FindFirstAsync(Func<DiscoveredServer, bool>? predicate = null, CancellationToken cancellationToken = default)
    {
        await foreach (var snapshot in DiscoverAsync(scanProgress: null, cancellationToken).ConfigureAwait(false))
        {
            foreach (var server in snapshot.Added.Concat(snapshot.Changed))
            {
                if (predicate is null || predicate(server))
                {
                    return server;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// One scan of every target and mDNS browsing at the same time, merged. mDNS listens until no answer is
    /// expected (<see cref="DiscoveryOptions.MdnsAnswerWindow"/> after its last query), at most <see cref="DiscoveryOptions.MdnsWait"/>.
    /// </summary>
    public async Task<IReadOnlyList<DiscoveredServer>> FindAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<DiscoveredServer> last = [];
        await foreach (var snapshot in DiscoverAsync(scanProgress: null, cancellationToken).ConfigureAwait(false))
        {
            last = snapshot.Servers;
        }

        return last;
    }

    /// <summary>
    /// One pass of discovery as it happens: a scan of every target and mDNS browsing (as in <see cref="FindAsync"/>)
    /// at the same time, yielding what each answer adds or changes, so a caller can show a
    /// server the moment it answers. A server found one way and then the other comes again in
    /// <see cref="DiscoverySnapshot.Changed"/>, with both sources. It ends with the pass; its last
    /// <see cref="DiscoverySnapshot.Servers"/> is what <see cref="FindAsync"/> returns.
    /// </summary>
    /// <param name="scanProgress">Told after each probe of the scan how far it is; its handler must not block.</param>
    /// <param name="cancellationToken">Stops the pass.</param>
    public async IAsyncEnumerable<DiscoverySnapshot> DiscoverAsync(
        IProgress<ScanProgress>? scanProgress = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var arrivals = Channel.CreateUnbounded<(DiscoverySource Source, DiscoveredServer Server)>(new() { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producing = ProduceAsync();
        var found = new Dictionary<DiscoverySource, Dictionary<Uri, DiscoveredServer>> { [DiscoverySource.Scan] = [], [DiscoverySource.Mdns] = [] };
        var known = new Dictionary<Uri, DiscoveredServer>();
        try
        {
            while (await arrivals.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (arrivals.Reader.TryRead(out var arrival))
                {
                    found[arrival.Source][arrival.Server.Url] = arrival.Server;
                }

                // Within a pass servers are only ever added or changed: nothing is removed.
                var merged = Merge([.. found[DiscoverySource.Scan].Values], [.. found[DiscoverySource.Mdns].Values]);
                var snapshot = DiscoverySnapshot.Diff(known, merged, sourcesMatter: true);
                Debug.Assert(snapshot.Removed.Count == 0, "a pass only accumulates what it found");
                if (snapshot.Added.Count + snapshot.Changed.Count > 0)
                {
                    known = merged.ToDictionary(server => server.Url);
                    yield return snapshot;
                }
            }

            await producing.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await producing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        async Task ProduceAsync()
        {
            try
            {
                await Task.WhenAll(
                    _options.UseScan ? ScanIntoAsync() : Task.CompletedTask,
                    _options.UseMdns ? BrowseIntoAsync() : Task.CompletedTask).ConfigureAwait(false);
            }
            finally
            {
                arrivals.Writer.TryComplete();
            }
        }

        async Task ScanIntoAsync()
        {
            await foreach (var server in _scanner.ScanAsync(Targets(), scanProgress, stop.Token).ConfigureAwait(false))
            {
                arrivals.Writer.TryWrite((DiscoverySource.Scan, server));
            }
        }

        async Task BrowseIntoAsync()
        {
            using var window = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            window.CancelAfter(_options.MdnsWait);
            try
            {
                var browser = new MdnsBrowser(MdnsInterfaces(), _time) { Instruments = Telemetry.ForDiscovery(_options.MeterFactory) };
                await foreach (var snapshot in browser.BrowseOnceAsync(_options.MdnsAnswerWindow, window.Token).ConfigureAwait(false))
                {
                    foreach (var server in snapshot.Added.Concat(snapshot.Changed))
                    {
                        arrivals.Writer.TryWrite((DiscoverySource.Mdns, server));
                    }
                }
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                // MdnsWait is over while answers still came.
            }
            catch (LocalWebSocketException error)
            {
                MdnsError = error;
            }
        }
    }

    private async Task ProduceAsync(
        DiscoverySource source,
        IAsyncEnumerable<(DiscoverySnapshot Snapshot, bool RoundEnded)> snapshots,
        ChannelWriter<(DiscoverySource, IReadOnlyList<DiscoveredServer>, bool)> writer)
    {
        try
        {
            await foreach (var (snapshot, roundEnded) in snapshots.ConfigureAwait(false))
            {
                writer.TryWrite((source, snapshot.Servers, roundEnded));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (LocalWebSocketException error) when (source == DiscoverySource.Mdns)
        {
            MdnsError = error;
            writer.TryWrite((source, [], true));
        }
    }

    private List<ScanTarget> Targets() =>
        _options.ScanTargets.Count > 0 ? [.. _options.ScanTargets] : [.. ScanTarget.FromLocalInterfaces(_options.IncludeLoopback)];

    /// <summary>The interfaces named in the options; none means every suitable one to the browser.</summary>
    private IReadOnlyList<IPAddress> MdnsInterfaces() => [.. _options.MdnsInterfaces];

    /// <summary>One entry per URL; a server both found and advertised keeps the scan's details and time, and both sources.</summary>
    internal static List<DiscoveredServer> Merge(IReadOnlyList<DiscoveredServer> scanned, IReadOnlyList<DiscoveredServer> advertised)
    {
        var merged = scanned.ToDictionary(server => server.Url);
        foreach (var server in advertised)
        {
            merged[server.Url] = merged.TryGetValue(server.Url, out var found)
                ? new DiscoveredServer(found.Url, found.Address, found.Port, found.Details, found.Source | server.Source, found.RoundTripTime, server.ServiceName)
                : server;
        }

        return [.. merged.Values.OrderBy(server => server.Url.ToString(), StringComparer.Ordinal)];
    }

    /// <summary>Releases the scanner's connections.</summary>
    public void Dispose() => _scanner.Dispose();
}
