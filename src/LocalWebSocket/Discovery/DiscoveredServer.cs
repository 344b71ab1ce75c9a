using System.Net;
using System.Text.Json;

namespace LocalWebSocket.Discovery;

/// <summary>How a server was found; a server found both ways has both flags.</summary>
[Flags]
public enum DiscoverySource
{
    /// <summary>Not found.</summary>
    None = 0,

    /// <summary>By probing <c>GET /</c> on the addresses of a subnet (works with Dart <c>local_websocket</c> servers).</summary>
    Scan = 1,

    /// <summary>By its mDNS / DNS-SD advertisement.</summary>
    Mdns = 2,
}

/// <summary>A server found on the local network: where to connect, and the details it publishes.</summary>
public sealed class DiscoveredServer
{
    /// <summary>Creates a discovered server.</summary>
    public DiscoveredServer(Uri url, IPAddress address, int port, JsonElement details, DiscoverySource source, TimeSpan roundTripTime, string? serviceName = null)
    {
        CertificateFingerprint = details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("tlsFingerprint", out var fingerprint) && fingerprint.ValueKind == JsonValueKind.String
            ? fingerprint.GetString()
            : null;
        if (CertificateFingerprint is not null && url.Scheme == "ws")
        {
            // A TLS server publishes its fingerprint; its WebSockets are at wss://.
            url = Internal.ZonedUri.With(url, scheme: "wss");
        }

        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(address);
        Url = url;
        Address = address;
        Port = port;
        Details = details.ValueKind == JsonValueKind.Undefined ? default : details.Clone();
        Source = source;
        RoundTripTime = roundTripTime;
        ServiceName = serviceName;
        DetailsJson = Details.ValueKind == JsonValueKind.Undefined ? "{}" : Details.GetRawText();
    }

    /// <summary>
    /// The WebSocket URL to connect to, e.g. <c>ws://192.168.1.20:8080/ws</c>. A server found only at an IPv6
    /// link-local address has the receiving interface's index as zone, <c>ws://[fe80::1%2]:8080/ws</c>: the
    /// client connects with it, and <see cref="Uri.OriginalString"/> shows it (<see cref="Uri.ToString"/> leaves it out).
    /// </summary>
    public Uri Url { get; }

    /// <summary>The server's address.</summary>
    public IPAddress Address { get; }

    /// <summary>The server's port.</summary>
    public int Port { get; }

    /// <summary>The server's details document (a JSON object), e.g. <c>Details.GetProperty("name").GetString()</c>.</summary>
    public JsonElement Details { get; }

    /// <summary>The details as compact JSON text.</summary>
    public string DetailsJson { get; }

    /// <summary>How it was found.</summary>
    public DiscoverySource Source { get; }

    /// <summary>The time the probe took (the scan's <c>GET /</c>), or zero when only mDNS saw it.</summary>
    public TimeSpan RoundTripTime { get; }

    /// <summary>
    /// For a TLS server, the SHA-256 fingerprint of its certificate as it publishes it; give it to
    /// <see cref="Client.LocalWebSocketClientOptions.PinnedCertificateFingerprint"/> to connect to <see cref="Url"/>.
    /// </summary>
    public string? CertificateFingerprint { get; }

    /// <summary>The mDNS service instance name, when it was advertised.</summary>
    public string? ServiceName { get; }

    /// <summary>Whether the two describe the same server with the same details.</summary>
    internal bool SameAs(DiscoveredServer other) => Url == other.Url && DetailsJson == other.DetailsJson;

    /// <inheritdoc />
    public override string ToString() => $"{Url} {DetailsJson} ({Source}, {RoundTripTime.TotalMilliseconds:0.#} ms)";
}

/// <summary>One round of discovery: everything known now, and what changed since the previous round.</summary>
public sealed class DiscoverySnapshot(
    IReadOnlyList<DiscoveredServer> servers,
    IReadOnlyList<DiscoveredServer> added,
    IReadOnlyList<DiscoveredServer> removed,
    IReadOnlyList<DiscoveredServer> changed)
{
    /// <summary>Every server known now, ordered by URL.</summary>
    public IReadOnlyList<DiscoveredServer> Servers { get; } = servers;

    /// <summary>Servers that appeared.</summary>
    public IReadOnlyList<DiscoveredServer> Added { get; } = added;

    /// <summary>Servers that are gone.</summary>
    public IReadOnlyList<DiscoveredServer> Removed { get; } = removed;

    /// <summary>Servers whose details changed, or, where scan and mDNS are merged, that were found another way too (or no longer).</summary>
    public IReadOnlyList<DiscoveredServer> Changed { get; } = changed;

    /// <summary>Compares a new round with the previous one.</summary>
    /// <param name="previous">What was known, by URL.</param>
    /// <param name="current">What is known now.</param>
    /// <param name="sourcesMatter">
    /// Whether a server now found another way counts as changed: yes where scan and mDNS are merged, no within
    /// one source, whose servers only ever carry that source.
    /// </param>
    internal static DiscoverySnapshot Diff(
        IReadOnlyDictionary<Uri, DiscoveredServer> previous, IReadOnlyList<DiscoveredServer> current, bool sourcesMatter = false)
    {
        var added = new List<DiscoveredServer>();
        var changed = new List<DiscoveredServer>();
        var seen = new HashSet<Uri>();
        foreach (var server in current)
        {
            seen.Add(server.Url);
            if (!previous.TryGetValue(server.Url, out var before))
            {
                added.Add(server);
            }
            else if (!before.SameAs(server) || (sourcesMatter && before.Source != server.Source))
            {
                changed.Add(server);
            }
        }

        var removed = previous.Values.Where(server => !seen.Contains(server.Url)).ToList();
        return new DiscoverySnapshot(current, added, removed, changed);
    }
}
