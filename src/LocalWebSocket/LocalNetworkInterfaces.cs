using System.Net;
using System.Net.Sockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket;

/// <summary>
/// This machine's network interfaces, as the library reads them: for an app (or a configuration file) that
/// names the interface to advertise or browse mDNS on by its name (<c>eth0</c>, <c>wlan0</c>) rather than by
/// an address (<see cref="Server.LocalWebSocketServerOptions.MdnsInterfaces"/>,
/// <see cref="Discovery.DiscoveryOptions.MdnsInterfaces"/>).
/// </summary>
public static class LocalNetworkInterfaces
{
    /// <summary>
    /// The address that stands for an interface: <paramref name="addressOrName"/> itself when it is an address
    /// (<c>192.168.1.20</c>, <c>fe80::1%2</c>), else the named interface's IPv4 address, or its first IPv6 one
    /// when it has no IPv4 address.
    /// </summary>
    /// <param name="addressOrName">An IP address, or the name of one of this machine's interfaces (exact, as the OS spells it).</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentException">Neither an address nor the name of an interface with an address; the message lists the names there are.</exception>
    public static IPAddress Resolve(string addressOrName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(addressOrName);
        if (IPAddress.TryParse(addressOrName, out var address))
        {
            return address;
        }

        var all = LocalNetwork.Addresses();
        var named = all.Where(a => a.InterfaceName == addressOrName).Select(a => a.Address)
            .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .FirstOrDefault();
        if (named is not null)
        {
            return named;
        }

        var names = string.Join(", ", all.Select(a => a.InterfaceName).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal));
        throw new ArgumentException(
            $"'{addressOrName}' is neither an IP address nor the name of an interface of this machine with an address"
            + (names.Length > 0 ? $" (there are: {names})." : "."),
            nameof(addressOrName));
    }
}
