using System.Net;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Discovery;

/// <summary>Settings of a <see cref="ServerDiscovery"/>.</summary>
public sealed class DiscoveryOptions
{
    private TimeSpan _mdnsWait = TimeSpan.FromSeconds(2);

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

    /// <summary>The IPv4 interface addresses to browse mDNS on. Empty (the default): every suitable interface.</summary>
    public IList<IPAddress> MdnsInterfaces { get; } = [];

    /// <summary>How long a one-shot <see cref="ServerDiscovery.FindAsync"/> listens for mDNS answers. Default 2 s.</summary>
    public TimeSpan MdnsWait
    {
        get => _mdnsWait;
        set => _mdnsWait = OptionGuards.PositiveTime(value);
    }
}
