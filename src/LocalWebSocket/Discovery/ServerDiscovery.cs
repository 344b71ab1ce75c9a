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
        _scanner = new ServerScanner(_options.Scanner, _time);
    }

    /// <summary>
    /// Why mDNS is not part of the results, when browsing could not start (no multicast on the interface);
    /// scanning goes on without it.
    /// </summary>
    public LocalWebSocketException? MdnsError { get; private set; }

    /// <summary>
    /// Discovers continuously: yields the merged list after the first scan and whenever it changes, with what
    /// was added, removed or changed.
    /// </summary>
    public async IAsyncEnumerable<DiscoverySnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = Channel.CreateUnbounded<(DiscoverySource Source, IReadOnlyList<DiscoveredServer> Servers)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producers = new List<Task>();
        if (_options.UseScan)
        {
            producers.Add(ProduceAsync(DiscoverySource.Scan, _scanner.WatchAsync(Targets(), stop.Token), updates.Writer));
        }

        if (_options.UseMdns)
        {
            producers.Add(ProduceAsync(DiscoverySource.Mdns, new MdnsBrowser(MdnsInterfaces(), _time).WatchAsync(stop.Token), updates.Writer));
        }

        var latest = new Dictionary<DiscoverySource, IReadOnlyList<DiscoveredServer>>();
        var known = new Dictionary<Uri, DiscoveredServer>();
        var first = true;
        try
        {
            while (await updates.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (updates.Reader.TryRead(out var update))
                {
                    latest[update.Source] = update.Servers;
                }

                // Until the first scan round is in, an empty list would only say "not looked yet".
                if (_options.UseScan && !latest.ContainsKey(DiscoverySource.Scan))
                {
                    continue;
                }

                var merged = Merge(latest.GetValueOrDefault(DiscoverySource.Scan, []), latest.GetValueOrDefault(DiscoverySource.Mdns, []));
                var snapshot = DiscoverySnapshot.Diff(known, merged);
                if (first || snapshot.Added.Count + snapshot.Removed.Count + snapshot.Changed.Count > 0)
                {
                    first = false;
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

    /// <summary>One scan of every target and <see cref="DiscoveryOptions.MdnsWait"/> of mDNS browsing, at the same time; merged.</summary>
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
    /// One pass of discovery as it happens: a scan of every target and <see cref="DiscoveryOptions.MdnsWait"/>
    /// of mDNS browsing at the same time, yielding what each answer adds or changes, so a caller can show a
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

                var merged = Merge([.. found[DiscoverySource.Scan].Values], [.. found[DiscoverySource.Mdns].Values]);
                var added = merged.Where(server => !known.ContainsKey(server.Url)).ToList();
                var changed = merged.Where(server => known.TryGetValue(server.Url, out var before)
                    && (before.Source != server.Source || before.DetailsJson != server.DetailsJson)).ToList();
                if (added.Count + changed.Count > 0)
                {
                    known = merged.ToDictionary(server => server.Url);
                    yield return new DiscoverySnapshot(merged, added, [], changed);
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
                await foreach (var snapshot in new MdnsBrowser(MdnsInterfaces(), _time).WatchAsync(window.Token).ConfigureAwait(false))
                {
                    foreach (var server in snapshot.Added.Concat(snapshot.Changed))
                    {
                        arrivals.Writer.TryWrite((DiscoverySource.Mdns, server));
                    }
                }
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                // The listening window is over.
            }
            catch (LocalWebSocketException error)
            {
                MdnsError = error;
            }
        }
    }

    private async Task ProduceAsync(
        DiscoverySource source, IAsyncEnumerable<DiscoverySnapshot> rounds, ChannelWriter<(DiscoverySource, IReadOnlyList<DiscoveredServer>)> writer)
    {
        try
        {
            await foreach (var round in rounds.ConfigureAwait(false))
            {
                writer.TryWrite((source, round.Servers));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (LocalWebSocketException error) when (source == DiscoverySource.Mdns)
        {
            MdnsError = error;
            writer.TryWrite((source, []));
        }
    }

    private List<ScanTarget> Targets() =>
        _options.ScanTargets.Count > 0 ? [.. _options.ScanTargets] : [.. ScanTarget.FromLocalInterfaces(_options.IncludeLoopback)];

    private IReadOnlyList<IPAddress> MdnsInterfaces() =>
        _options.MdnsInterfaces.Count > 0 ? [.. _options.MdnsInterfaces] : MdnsTransport.DefaultInterfaces();

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
