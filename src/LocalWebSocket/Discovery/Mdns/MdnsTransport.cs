using System.Net;
using System.Net.Sockets;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// A UDP socket on port 5353 joined to 224.0.0.251 on one chosen interface, shared with other responders
/// on the machine (address reuse), or a one-shot querier's socket on an ephemeral port. Outgoing multicast
/// leaves through that interface only.
/// </summary>
internal sealed class MdnsTransport : IDisposable
{
    public const int Port = 5353;

    public static readonly IPAddress Group = IPAddress.Parse("224.0.0.251");

    private static readonly IPEndPoint GroupEndPoint = new(Group, Port);

    private readonly Socket _socket;

    private MdnsTransport(Socket socket, IPAddress interfaceAddress)
    {
        _socket = socket;
        InterfaceAddress = interfaceAddress;
    }

    /// <summary>The interface this transport sends and listens on.</summary>
    public IPAddress InterfaceAddress { get; }

    /// <summary>Opens the transport.</summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on that interface (code <see cref="LocalWebSocketErrorCode.ConnectionFailed"/>).</exception>
    public static MdnsTransport Open(IPAddress interfaceAddress) => Open(interfaceAddress, socket =>
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (OperatingSystem.IsLinux())
        {
            // IP_MULTICAST_ALL off: only the groups this socket joined, on the interfaces it joined them on.
            socket.SetRawSocketOption(0 /* IPPROTO_IP */, 49 /* IP_MULTICAST_ALL */, BitConverter.GetBytes(0));
        }

        socket.Bind(new IPEndPoint(IPAddress.Any, Port));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(Group, interfaceAddress));
    });

    /// <summary>
    /// Opens a one-shot querier's socket (RFC 6762 section 5.1): an ephemeral port on the interface, sending to
    /// the group. Responders must answer a query from a port other than 5353 by unicast, at once, and are not
    /// held back by their once-a-second limit on multicasting a record (section 6.7), so a short-lived browser
    /// is answered even when another host asked a moment ago.
    /// </summary>
    /// <exception cref="LocalWebSocketException">Multicast is not available on that interface.</exception>
    public static MdnsTransport OpenOneShot(IPAddress interfaceAddress) =>
        Open(interfaceAddress, socket => socket.Bind(new IPEndPoint(interfaceAddress, 0)));

    private static MdnsTransport Open(IPAddress interfaceAddress, Action<Socket> bind)
    {
        if (interfaceAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("mDNS here works over IPv4 interfaces; pass an IPv4 interface address.", nameof(interfaceAddress));
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            bind(socket);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, interfaceAddress.GetAddressBytes());
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            return new MdnsTransport(socket, interfaceAddress);
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            throw new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectionFailed,
                $"mDNS is not available on interface {interfaceAddress}: {exception.Message}. Discovery by subnet scan still works.",
                null,
                exception);
        }
    }

    /// <summary>Sends to the mDNS group, or to <paramref name="to"/> (a legacy unicast querier).</summary>
    public async Task SendAsync(DnsMessage message, IPEndPoint? to, CancellationToken cancellationToken)
    {
        await _socket.SendToAsync(message.Encode(), SocketFlags.None, to ?? GroupEndPoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives the next well-formed DNS message; malformed packets are dropped silently.</summary>
    public async Task<(DnsMessage Message, IPEndPoint From)> ReceiveAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken)
                .ConfigureAwait(false);
            if (DnsMessage.TryParse(buffer.AsSpan(0, result.ReceivedBytes), out var message))
            {
                return (message, (IPEndPoint)result.RemoteEndPoint);
            }
        }
    }

    /// <summary>
    /// The IPv4 addresses of the interfaces that are up, support multicast, and are not loopback: where
    /// mDNS goes when no interface is named.
    /// </summary>
    public static IReadOnlyList<IPAddress> DefaultInterfaces() =>
        [.. Internal.LocalNetwork.Addresses().Where(a => a.IsLan && a.IsIPv4 && a.SupportsMulticast).Select(a => a.Address)];

    public void Dispose() => _socket.Dispose();
}
