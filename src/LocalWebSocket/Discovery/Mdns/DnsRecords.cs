using System.Net;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>The record types mDNS / DNS-SD uses here.</summary>
internal enum DnsType : ushort
{
    A = 1,
    Ptr = 12,
    Txt = 16,
    Aaaa = 28,
    Srv = 33,
    Nsec = 47,
    Any = 255,
}

/// <summary>A question; <see cref="UnicastResponse"/> is mDNS's QU bit (RFC 6762 section 5.4).</summary>
internal sealed record DnsQuestion(string Name, DnsType Type, bool UnicastResponse = false);

/// <summary>A resource record; <see cref="CacheFlush"/> is mDNS's cache-flush bit (RFC 6762 section 10.2).</summary>
internal abstract record DnsRecord(string Name, DnsType Type, uint Ttl, bool CacheFlush)
{
    /// <summary>The same record with another TTL (0 for a goodbye).</summary>
    public abstract DnsRecord WithTtl(uint ttl);
}

internal sealed record PtrRecord(string Name, uint Ttl, string Target) : DnsRecord(Name, DnsType.Ptr, Ttl, false)
{
    public override DnsRecord WithTtl(uint ttl) => this with { Ttl = ttl };
}

internal sealed record SrvRecord(string Name, uint Ttl, bool CacheFlush, ushort Priority, ushort Weight, ushort Port, string Target)
    : DnsRecord(Name, DnsType.Srv, Ttl, CacheFlush)
{
    public override DnsRecord WithTtl(uint ttl) => this with { Ttl = ttl };
}

internal sealed record TxtRecord(string Name, uint Ttl, bool CacheFlush, IReadOnlyList<string> Entries) : DnsRecord(Name, DnsType.Txt, Ttl, CacheFlush)
{
    public override DnsRecord WithTtl(uint ttl) => this with { Ttl = ttl };

    /// <summary>The <c>key=value</c> entries as a dictionary; the first of a repeated key wins (RFC 6763 section 6.4).</summary>
    public Dictionary<string, string> ToDictionary()
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in Entries)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? entry : entry[..equals];
            if (key.Length > 0)
            {
                result.TryAdd(key, equals < 0 ? "" : entry[(equals + 1)..]);
            }
        }

        return result;
    }

    public bool Equals(TxtRecord? other) =>
        other is not null && Name == other.Name && Ttl == other.Ttl && CacheFlush == other.CacheFlush && Entries.SequenceEqual(other.Entries);

    public override int GetHashCode() => HashCode.Combine(Name, Ttl, Entries.Count);
}

/// <summary>An A or AAAA record.</summary>
internal sealed record AddressRecord(string Name, uint Ttl, bool CacheFlush, IPAddress Address)
    : DnsRecord(Name, Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? DnsType.Aaaa : DnsType.A, Ttl, CacheFlush)
{
    public override DnsRecord WithTtl(uint ttl) => this with { Ttl = ttl };
}

/// <summary>A record of a type we do not read; kept so that counts stay right.</summary>
internal sealed record OtherRecord(string Name, DnsType Type, uint Ttl, bool CacheFlush) : DnsRecord(Name, Type, Ttl, CacheFlush)
{
    public override DnsRecord WithTtl(uint ttl) => this with { Ttl = ttl };
}
