using System.Net;
using System.Net.Sockets;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// A UDP socket on port 5353 joined to the mDNS group of one address family (224.0.0.251 or ff02::fb) on one
/// link, shared with other responders on the machine (address reuse), or a one-shot querier's socket on an
/// ephemeral port. Outgoing multicast leaves through that link only.
/// </summary>
internal sealed class MdnsTransport : IDisposable
{
    public const int Port = 5353;

    public static readonly IPAddress Group = IPAddress.Parse("224.0.0.251");

    public static readonly IPAddress GroupV6 = IPAddress.Parse("ff02::fb");

    // Linux socket options .NET has no name for.
    private const int IpProtocolIPv4 = 0;
    private const int IpMulticastAll = 49;
    private const int IpProtocolIPv6 = 41;
    private const int IPv6MulticastAll = 29;

    private readonly Socket _socket;
    private readonly IPEndPoint _group;

    private MdnsTransport(Socket socket, MdnsLink link, AddressFamily family)
    {
        _socket = socket;
        Link = link;
        Family = family;
        _group = family == AddressFamily.InterNetwork ? new IPEndPoint(Group, Port) : new IPEndPoint(new IPAddress(GroupV6.GetAddressBytes(), link.Index), Port);
    }

    /// <summary>The link this transport sends and listens on.</summary>
    public MdnsLink Link { get; }

    /// <summary>IPv4 (224.0.0.251) or IPv6 (ff02::fb).</summary>
    public AddressFamily Family { get; }

    /// <summary>Opens the link's 5353 socket for <paramref name="family"/>, shared with the machine's other responders.</summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on that link (code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>).</exception>
    public static MdnsTransport Open(MdnsLink link, AddressFamily family) => Open(link, family, socket =>
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (family == AddressFamily.InterNetwork)
        {
            if (OperatingSystem.IsLinux())
            {
                // IP_MULTICAST_ALL off: only the groups this socket joined, on the interfaces it joined them on.
                socket.SetRawSocketOption(IpProtocolIPv4, IpMulticastAll, BitConverter.GetBytes(0));
            }

            socket.Bind(new IPEndPoint(IPAddress.Any, Port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(Group, link.IPv4!));
        }
        else
        {
            if (OperatingSystem.IsLinux())
            {
                // The same for IPv6 (Linux 4.20 and later; an older kernel delivers every joined group, which the
                // DNS parser and the per-link records cope with).
                try
                {
                    socket.SetRawSocketOption(IpProtocolIPv6, IPv6MulticastAll, BitConverter.GetBytes(0));
                }
                catch (SocketException)
                {
                }
            }

            socket.Bind(new IPEndPoint(IPAddress.IPv6Any, Port));
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(GroupV6, link.Index));
        }
    });

    /// <summary>
    /// Opens a one-shot querier's socket (RFC 6762 section 5.1): an ephemeral port on the link, sending to
    /// the group. Responders must answer a query from a port other than 5353 by unicast, at once, and are not
    /// held back by their once-a-second limit on multicasting a record (section 6.7), so a short-lived browser
    /// is answered even when another host asked a moment ago.
    /// </summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on that link.</exception>
    public static MdnsTransport OpenOneShot(MdnsLink link, AddressFamily family) => Open(link, family, socket =>
        socket.Bind(family == AddressFamily.InterNetwork ? new IPEndPoint(link.IPv4!, 0) : new IPEndPoint(IPAddress.IPv6Any, 0)));

    private static MdnsTransport Open(MdnsLink link, AddressFamily family, Action<Socket> bind)
    {
        if (family == AddressFamily.InterNetwork ? link.IPv4 is null : !link.UsesIPv6)
        {
            throw new ArgumentException($"Link {link.Name} has no {(family == AddressFamily.InterNetwork ? "IPv4 address" : "IPv6 multicast")} for mDNS.", nameof(link));
        }

        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetwork)
            {
                bind(socket);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, link.IPv4!.GetAddressBytes());
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            }
            else
            {
                // IPv6 only: the IPv4 group has its own socket, and a dual-mode one would hear its traffic twice.
                socket.DualMode = false;
                bind(socket);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, link.Index);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
            }

            return new MdnsTransport(socket, link, family);
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            throw new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectionFailed,
                $"mDNS over {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} is not available on interface {link}: {exception.Message}. Discovery by subnet scan still works.",
                null,
                exception);
        }
    }

    /// <summary>The link and family, for logs: <c>192.168.1.20 (IPv4)</c>, <c>eth0 (IPv6)</c>.</summary>
    public override string ToString() => Family == AddressFamily.InterNetwork ? $"{Link} (IPv4)" : $"{Link.Name} (IPv6)";

    /// <summary>Sends to the mDNS group, or to <paramref name="to"/> (a legacy unicast querier).</summary>
    public async Task SendAsync(DnsMessage message, IPEndPoint? to, CancellationToken cancellationToken)
    {
        await _socket.SendToAsync(message.Encode(), SocketFlags.None, to ?? _group, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives the next well-formed DNS message; malformed packets are dropped silently.</summary>
    public async Task<(DnsMessage Message, IPEndPoint From)> ReceiveAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(Family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), cancellationToken)
                .ConfigureAwait(false);
            if (DnsMessage.TryParse(buffer.AsSpan(0, result.ReceivedBytes), out var message))
            {
                return (message, (IPEndPoint)result.RemoteEndPoint);
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}
