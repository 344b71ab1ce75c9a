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
/// <param name="InterfaceIndex">The interface's index: an IPv6 link-local address's scope id, the interface IPv6 multicast is joined on (0 when unknown).</param>
internal readonly record struct InterfaceAddress(
    IPAddress Address, int PrefixLength, bool IsUp, bool IsLoopback, bool SupportsMulticast = true, string InterfaceName = "", int InterfaceIndex = 0)
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
            var properties = network.GetIPProperties();
            var index = IndexOf(properties);
            foreach (var unicast in properties.UnicastAddresses)
            {
                addresses.Add(new InterfaceAddress(unicast.Address, unicast.PrefixLength, isUp, isLoopback, network.SupportsMulticast, network.Name, index));
            }
        }

        return addresses;
    }

    /// <summary>The interface's index, from its IPv6 or else its IPv4 properties (a family the interface lacks throws); 0 when neither says.</summary>
    private static int IndexOf(IPInterfaceProperties properties)
    {
        try
        {
            return properties.GetIPv6Properties()?.Index ?? properties.GetIPv4Properties()?.Index ?? 0;
        }
        catch (Exception exception) when (exception is NetworkInformationException or PlatformNotSupportedException)
        {
            try
            {
                return properties.GetIPv4Properties()?.Index ?? 0;
            }
            catch (Exception inner) when (inner is NetworkInformationException or PlatformNotSupportedException)
            {
                return 0;
            }
        }
    }

    /// <summary>The LAN's IPv4 addresses (up, not loopback), in the order the interfaces are listed.</summary>
    public static IReadOnlyList<IPAddress> LanIPv4() => [.. Addresses().Where(a => a.IsLan && a.IsIPv4).Select(a => a.Address)];
}
