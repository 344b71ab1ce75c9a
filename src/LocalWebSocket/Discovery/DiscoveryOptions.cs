using System.Net;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Discovery;

/// <summary>Settings of a <see cref="ServerDiscovery"/>.</summary>
public sealed class DiscoveryOptions
{
    private TimeSpan _mdnsWait = TimeSpan.FromSeconds(2);
    private TimeSpan _mdnsAnswerWindow = TimeSpan.FromMilliseconds(750);

    /// <summary>Whether to scan subnets (finds Dart servers too). Default true.</summary>
    public bool UseScan { get; set; } = true;

    /// <summary>Whether to browse mDNS / DNS-SD. Default true.</summary>
    public bool UseMdns { get; set; } = true;

    /// <summary>What to scan. Empty (the default): the subnets of this machine's interfaces.</summary>
    public IList<ScanTarget> ScanTargets { get; } = [];

    /// <summary>Whether the automatic targets include loopback (127.0.0.0/24). Default false.</summary>
    public bool IncludeLoopback { get; set; }

    /// <summary>The scanner's settings (port, probe timeout, concurrency, interval).</summary>
    public ScannerOptions Scanner { get; } = new();

    /// <summary>
    /// Where discovery's meter (<see cref="LocalWebSocketTelemetry.Name"/>) comes from, for mDNS and for the scan
    /// when <see cref="ScannerOptions.MeterFactory"/> is not set. Null (the default): the meter the process shares.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>
    /// The interfaces to browse mDNS on (IPv4 and IPv6), each named by one of its addresses. Empty (the default):
    /// every interface that is up, multicast-capable and not loopback.
    /// </summary>
    public IList<IPAddress> MdnsInterfaces { get; } = [];

    /// <summary>
    /// The longest a one-shot <see cref="ServerDiscovery.FindAsync"/> (or <see cref="ServerDiscovery.DiscoverAsync"/>)
    /// listens for mDNS answers, however many keep coming. Default 2 s. It usually ends sooner: see <see cref="MdnsAnswerWindow"/>.
    /// </summary>
    public TimeSpan MdnsWait
    {
        get => _mdnsWait;
        set => _mdnsWait = OptionGuards.PositiveTime(value);
    }

    /// <summary>
    /// How long a one-shot discovery waits for mDNS answers after its last query (the first one, or one asking
    /// what an answer left out) before it stops listening. Default 750 ms: a responder may wait 20-120 ms before
    /// answering and up to 500 ms more to aggregate answers (RFC 6762 sections 6 and 6.4; python-zeroconf
    /// does), and the network adds some. Raise it for phones whose Wi-Fi power saving delays multicast.
    /// </summary>
    public TimeSpan MdnsAnswerWindow
    {
        get => _mdnsAnswerWindow;
        set => _mdnsAnswerWindow = OptionGuards.PositiveTime(value);
    }
}
