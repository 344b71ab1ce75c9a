using System.Net;
using System.Net.Sockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// One network interface as mDNS uses it: its name and index, the IPv4 address mDNS over IPv4 sends from, and
/// its IPv6 addresses (link-local ones scoped to the interface). Immutable: when the interface changes, a new
/// link describes it.
/// </summary>
/// <param name="Name">The interface's name (<c>eth0</c>), or, for an address no interface holds, that address.</param>
/// <param name="Index">The interface's index (the scope id of its link-local addresses); 0 when unknown.</param>
/// <param name="IsLoopback">Whether it is the loopback interface.</param>
/// <param name="IPv4">The IPv4 address mDNS over IPv4 uses (the one asked for, else the interface's first); null when it has none.</param>
/// <param name="IPv6">The interface's IPv6 addresses.</param>
internal sealed record MdnsLink(string Name, int Index, bool IsLoopback, IPAddress? IPv4, IReadOnlyList<IPAddress> IPv6)
{
    /// <summary>
    /// Whether mDNS over IPv6 (<c>ff02::fb</c>) runs on this link: it has an IPv6 address, a known index, and is
    /// not loopback (Linux routes no IPv6 multicast on <c>lo</c>: sends there fail with "network unreachable").
    /// </summary>
    public bool UsesIPv6 => !IsLoopback && Index > 0 && IPv6.Count > 0;

    /// <summary>The address families mDNS runs on here: IPv4 when the link has an IPv4 address, IPv6 when <see cref="UsesIPv6"/>.</summary>
    public IEnumerable<AddressFamily> Families =>
        new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 }.Where(family => family == AddressFamily.InterNetwork ? IPv4 is not null : UsesIPv6);

    /// <summary>Every address of the link, IPv4 first.</summary>
    public IEnumerable<IPAddress> Addresses => IPv4 is null ? IPv6 : IPv6.Prepend(IPv4);

    /// <summary>Whether <paramref name="other"/> has the same addresses (a link whose addresses changed is a new one).</summary>
    public bool SameAddresses(MdnsLink other) =>
        Equals(IPv4, other.IPv4) && IPv6.Count == other.IPv6.Count && IPv6.Zip(other.IPv6).All(pair => pair.First.Equals(pair.Second));

    /// <summary>The IPv4 address when it has one (as users name interfaces), else the interface's name.</summary>
    public override string ToString() => IPv4?.ToString() ?? Name;

    /// <summary>The interfaces mDNS uses when none is named: up, multicast-capable, not loopback, with an address.</summary>
    public static IReadOnlyList<MdnsLink> Defaults()
    {
        var all = LocalNetwork.Addresses();
        return [.. all.Where(a => a.IsLan && a.SupportsMulticast).Select(a => a.InterfaceName).Distinct().Select(name => Build(all, name, null))];
    }

    /// <summary>
    /// The links that hold <paramref name="addresses"/> (one per interface, in order). An IPv4 address no interface
    /// holds stays a link of its own (opening it says why it cannot be used); an IPv6 one is an error.
    /// </summary>
    /// <exception cref="LocalWebSocketException">No interface of this machine holds an IPv6 address given (code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>).</exception>
    public static IReadOnlyList<MdnsLink> For(IEnumerable<IPAddress> addresses)
    {
        var all = LocalNetwork.Addresses();
        var links = new List<MdnsLink>();
        foreach (var address in addresses)
        {
            var holder = all.FirstOrDefault(a => SameAddress(a.Address, address));
            if (holder.Address is null)
            {
                if (address.AddressFamily != AddressFamily.InterNetwork)
                {
                    throw new LocalWebSocketException(
                        LocalWebSocketErrorCode.ConnectionFailed, $"No network interface of this machine has the address {address}, so mDNS cannot use it.");
                }

                links.Add(new MdnsLink(address.ToString(), 0, IPAddress.IsLoopback(address), address, []));
            }
            else if (!links.Any(link => link.Name == holder.InterfaceName))
            {
                links.Add(Build(all, holder.InterfaceName, address.AddressFamily == AddressFamily.InterNetwork ? address : null));
            }
        }

        return links;
    }

    /// <summary>This link as its interface is now (same preferred IPv4 address if it still has it), or null when it is gone or down.</summary>
    public MdnsLink? Now()
    {
        var all = LocalNetwork.Addresses();
        if (!all.Any(a => a.InterfaceName == Name && a.IsUp))
        {
            return Index == 0 && IPv4 is not null && !all.Any(a => a.InterfaceName == Name) ? this : null;
        }

        return Build(all, Name, IPv4);
    }

    private static MdnsLink Build(IReadOnlyList<InterfaceAddress> all, string name, IPAddress? preferredIPv4)
    {
        var mine = all.Where(a => a.InterfaceName == name).ToList();
        var ipv4 = mine.Where(a => a.IsIPv4).Select(a => a.Address).ToList();
        return new MdnsLink(
            name,
            mine.Select(a => a.InterfaceIndex).FirstOrDefault(),
            mine.Any(a => a.IsLoopback),
            preferredIPv4 is not null && ipv4.Contains(preferredIPv4) ? preferredIPv4 : ipv4.FirstOrDefault(),
            [.. mine.Where(a => !a.IsIPv4).Select(a => a.Address)]);
    }

    /// <summary>Equal addresses; an unscoped IPv6 address given by a user matches the interface's scoped one.</summary>
    private static bool SameAddress(IPAddress interfaceAddress, IPAddress given) =>
        interfaceAddress.Equals(given) || (given.AddressFamily == AddressFamily.InterNetworkV6 && given.ScopeId == 0
            && interfaceAddress.AddressFamily == AddressFamily.InterNetworkV6 && interfaceAddress.GetAddressBytes().AsSpan().SequenceEqual(given.GetAddressBytes()));
}
