using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LocalWebSocket.Discovery;

/// <summary>
/// What a scan probes: a Dart-style <c>a.b.c</c> prefix (hosts .1 to .254), a CIDR block such as
/// <c>10.0.0.0/22</c> (at most <see cref="MaxHosts"/> hosts), or a single host. <see cref="FromLocalInterfaces"/>
/// finds this machine's own subnets.
/// </summary>
public sealed class ScanTarget
{
    /// <summary>The most hosts one target may hold: a /20. Larger subnets are scanned around our own address.</summary>
    public const int MaxHosts = 4096;

    private readonly uint _first;
    private readonly uint _count;
    private readonly string? _host;

    private ScanTarget(uint first, uint count, string description)
    {
        _first = first;
        _count = count;
        Description = description;
    }

    private ScanTarget(string host)
    {
        _host = host;
        _count = 1;
        Description = host;
    }

    /// <summary>The target as it would be written, e.g. <c>192.168.1.0/24</c>.</summary>
    public string Description { get; }

    /// <summary>How many hosts a scan of this target probes.</summary>
    public int HostCount => (int)_count;

    /// <summary>
    /// Parses a target: <c>a.b.c</c> (Dart-compatible: .1 to .254), <c>a.b.c.d/n</c> (CIDR, n from 20 to 32),
    /// or a single host (<c>a.b.c.d</c>, <c>localhost</c>, a host name).
    /// </summary>
    /// <exception cref="FormatException">Not one of those forms, or a CIDR block over <see cref="MaxHosts"/> hosts.</exception>
    public static ScanTarget Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        text = text.Trim();
        var parts = text.Split('.');
        if (parts.Length == 3 && parts.All(p => byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var prefix = IPAddress.Parse(text + ".0");
            return new ScanTarget(ToUInt(prefix) + 1, 254, text + ".1-254");
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (text[..slash].Split('.').Length != 4 || !IPAddress.TryParse(text[..slash], out var network) || network.AddressFamily != AddressFamily.InterNetwork
                || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > 32)
            {
                throw new FormatException($"'{text}' is not an IPv4 CIDR block such as 192.168.1.0/24.");
            }

            return Cidr(network, length);
        }

        if (text.Contains(':', StringComparison.Ordinal) && !IPAddress.TryParse(text, out _))
        {
            throw new FormatException($"'{text}' is not a prefix, a CIDR block or a host.");
        }

        return new ScanTarget(text);
    }

    /// <summary>The hosts of an IPv4 CIDR block, without its network and broadcast addresses (for blocks of 4 or more).</summary>
    /// <exception cref="FormatException">The block holds more than <see cref="MaxHosts"/> hosts.</exception>
    public static ScanTarget Cidr(IPAddress network, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
        var size = 1UL << (32 - prefixLength);
        var start = ToUInt(network) & (prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength));
        var (first, count) = size >= 4 ? (start + 1, size - 2) : (start, size);
        if (count > MaxHosts)
        {
            throw new FormatException($"/{prefixLength} holds {count} hosts; scan blocks of at most {MaxHosts} (a /20).");
        }

        return new ScanTarget(first, (uint)count, $"{FromUInt(start)}/{prefixLength}");
    }

    /// <summary>A single host: an address or a name.</summary>
    public static ScanTarget Host(string host)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        return new ScanTarget(host);
    }

    /// <summary>
    /// The subnets of this machine's interfaces that are up, IPv4, and not loopback (unless
    /// <paramref name="includeLoopback"/>): what "scan my network" means with no configuration.
    /// </summary>
    public static IReadOnlyList<ScanTarget> FromLocalInterfaces(bool includeLoopback = false)
    {
        return FromInterfaces(Internal.LocalNetwork.Addresses(), includeLoopback);
    }

    /// <summary>
    /// The scan targets for a list of interface addresses: one block per IPv4 subnet, deduplicated. A subnet
    /// larger than <see cref="MaxHosts"/> is narrowed to the /24 around the interface's own address, and
    /// loopback (127.0.0.0/8) is narrowed to 127.0.0.0/24.
    /// </summary>
    internal static IReadOnlyList<ScanTarget> FromInterfaces(IEnumerable<Internal.InterfaceAddress> addresses, bool includeLoopback)
    {
        var targets = new List<ScanTarget>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var address in addresses)
        {
            if (!address.IsUp || address.Address.AddressFamily != AddressFamily.InterNetwork
                || address.PrefixLength is < 0 or > 32 || (address.IsLoopback || IPAddress.IsLoopback(address.Address)) && !includeLoopback)
            {
                continue;
            }

            var length = address.PrefixLength;
            if ((1UL << (32 - length)) - 2 > MaxHosts)
            {
                length = 24;
            }

            var target = Cidr(address.Address, length);
            if (seen.Add(target.Description))
            {
                targets.Add(target);
            }
        }

        return targets;
    }

    /// <summary>The hosts to probe, in address order.</summary>
    internal IEnumerable<string> Hosts()
    {
        if (_host is not null)
        {
            yield return _host;
            yield break;
        }

        for (var i = 0u; i < _count; i++)
        {
            yield return FromUInt(_first + i).ToString();
        }
    }

    /// <inheritdoc />
    public override string ToString() => Description;

    private static uint ToUInt(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
    }

    private static IPAddress FromUInt(uint value) =>
        new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
}
