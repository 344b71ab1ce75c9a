using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LocalWebSocket.Internal;

/// <summary>One address of one of this machine's network interfaces.</summary>
/// <param name="Address">The unicast address.</param>
/// <param name="PrefixLength">Its subnet's prefix length (24 for a /24).</param>
/// <param name="IsUp">Whether the interface is up.</param>
/// <param name="IsLoopback">Whether the interface is the loopback one.</param>
/// <param name="SupportsMulticast">Whether the interface can send and receive multicast (mDNS).</param>
/// <param name="InterfaceName">The interface's name, e.g. <c>eth0</c>.</param>
internal readonly record struct InterfaceAddress(
    IPAddress Address, int PrefixLength, bool IsUp, bool IsLoopback, bool SupportsMulticast = true, string InterfaceName = "")
{
    /// <summary>Up, not loopback: an address devices on the local network can reach.</summary>
    public bool IsLan => IsUp && !IsLoopback && !IPAddress.IsLoopback(Address);

    public bool IsIPv4 => Address.AddressFamily == AddressFamily.InterNetwork;
}

/// <summary>
/// This machine's interface addresses, read in this one place; the server's URLs, the TLS certificate's
/// names, the scanner's subnets and mDNS's interfaces are each a filter over the same list.
/// </summary>
internal static class LocalNetwork
{
    /// <summary>Every address of every interface, as the operating system reports them now.</summary>
    public static IReadOnlyList<InterfaceAddress> Addresses()
    {
        var addresses = new List<InterfaceAddress>();
        NetworkInterface[] networks;
        try
        {
            networks = NetworkInterface.GetAllNetworkInterfaces();
        }
        catch (NetworkInformationException)
        {
            // Some sandboxes (mobile app extensions, containers) do not let a process list interfaces.
            return addresses;
        }

        foreach (var network in networks)
        {
            var isUp = network.OperationalStatus == OperationalStatus.Up;
            var isLoopback = network.NetworkInterfaceType == NetworkInterfaceType.Loopback;
            foreach (var unicast in network.GetIPProperties().UnicastAddresses)
            {
                addresses.Add(new InterfaceAddress(unicast.Address, unicast.PrefixLength, isUp, isLoopback, network.SupportsMulticast, network.Name));
            }
        }

        return addresses;
    }

    /// <summary>The LAN's IPv4 addresses (up, not loopback), in the order the interfaces are listed.</summary>
    public static IReadOnlyList<IPAddress> LanIPv4() => [.. Addresses().Where(a => a.IsLan && a.IsIPv4).Select(a => a.Address)];

    /// <summary>The other addresses of the interface that holds <paramref name="address"/> (::1 beside 127.0.0.1).</summary>
    public static IReadOnlyList<IPAddress> IPv6Beside(IPAddress address)
    {
        var all = Addresses();
        var owner = all.FirstOrDefault(a => a.Address.Equals(address)).InterfaceName;
        return owner is null or "" ? [] : [.. all.Where(a => a.InterfaceName == owner && !a.IsIPv4).Select(a => a.Address)];
    }
}
