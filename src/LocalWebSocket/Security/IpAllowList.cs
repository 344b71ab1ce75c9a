using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LocalWebSocket.Security;

/// <summary>
/// Accepts requests from listed addresses only: single IPv4 or IPv6 addresses, or CIDR ranges
/// (<c>192.168.1.0/24</c>, <c>fd00::/8</c>). An IPv4 client reaching a dual-mode listener appears as an
/// IPv4-mapped IPv6 address; it is matched as the IPv4 address it is. Others get 403
/// <c>IP address not allowed</c>. Addresses can be spoofed on some networks: combine with a credential.
/// </summary>
public sealed class IpAllowList : IRequestAuthenticator
{
    private readonly List<(byte[] Network, int PrefixLength)> _ranges = [];

    /// <summary>Creates the allow-list.</summary>
    /// <param name="entries">Addresses and CIDR ranges.</param>
    /// <exception cref="FormatException">An entry is neither.</exception>
    public IpAllowList(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            _ranges.Add(Parse(entry));
        }

        if (_ranges.Count == 0)
        {
            throw new ArgumentException("At least one address or range is needed.", nameof(entries));
        }
    }

    /// <summary>Whether <paramref name="address"/> is in the list.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bytes = (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).GetAddressBytes();
        return _ranges.Any(range => range.Network.Length == bytes.Length && InRange(bytes, range.Network, range.PrefixLength));
    }

    /// <inheritdoc />
    public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ValueTask.FromResult(request.RemoteEndPoint?.Address is not { } address
            ? AuthenticationResult.Deny(500, "Unable to determine client IP")
            : Contains(address) ? AuthenticationResult.Allow() : AuthenticationResult.InvalidCredentials("IP address not allowed"));
    }

    private static (byte[], int) Parse(string entry)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(entry);
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? entry : entry[..slash];
        if (!IPAddress.TryParse(addressText.Trim(), out var address)
            || (address.AddressFamily == AddressFamily.InterNetwork && addressText.Split('.').Length != 4))
        {
            throw new FormatException($"'{entry}' is not an IP address or CIDR range.");
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var length = bits;
        if (slash >= 0 && (!int.TryParse(entry[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > bits))
        {
            throw new FormatException($"'{entry}' has an invalid prefix length.");
        }

        return (address.GetAddressBytes(), length);
    }

    private static bool InRange(byte[] address, byte[] network, int prefixLength)
    {
        var fullBytes = prefixLength / 8;
        if (!address.AsSpan(0, fullBytes).SequenceEqual(network.AsSpan(0, fullBytes)))
        {
            return false;
        }

        var remaining = prefixLength % 8;
        if (remaining == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - remaining));
        return (address[fullBytes] & mask) == (network[fullBytes] & mask);
    }
}
