using System.Net;
using LocalWebSocket.Discovery.Mdns;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>The DNS codec: round trips, compression, and hostile packets that must be refused quietly.</summary>
public sealed class DnsMessageTests
{
    private static DnsMessage Sample() => new()
    {
        IsResponse = true,
        Answers = [new PtrRecord("_localws._tcp.local.", 4500, "Game Room._localws._tcp.local.")],
        Additionals =
        [
            new SrvRecord("Game Room._localws._tcp.local.", 120, true, 0, 0, 8080, "lws-1234.local."),
            new TxtRecord("Game Room._localws._tcp.local.", 4500, true, ["path=/ws", "v=1", "name=Zoë"]),
            new AddressRecord("lws-1234.local.", 120, true, IPAddress.Parse("192.168.1.20")),
            new AddressRecord("lws-1234.local.", 120, true, IPAddress.Parse("fe80::1")),
        ],
    };

    [Fact]
    public void Round_trips_every_record_type_with_compression()
    {
        var bytes = Sample().Encode();

        Assert.True(DnsMessage.TryParse(bytes, out var parsed));
        Assert.True(parsed.IsResponse);
        Assert.Equal(Sample().AllRecords, parsed.AllRecords);
        Assert.Equal("Zoë", ((TxtRecord)parsed.Additionals[1]).ToDictionary()["name"]);
        // "local." and the instance name are written once and pointed to after that.
        Assert.True(bytes.Length < 200, bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Round_trips_questions_with_the_unicast_bit()
    {
        var query = new DnsMessage { Id = 7, Questions = [new("_localws._tcp.local.", DnsType.Ptr, UnicastResponse: true)] };

        Assert.True(DnsMessage.TryParse(query.Encode(), out var parsed));
        Assert.False(parsed.IsResponse);
        Assert.Equal(7, parsed.Id);
        Assert.Equal(query.Questions, parsed.Questions);
    }

    [Fact]
    public void Round_trips_the_tc_bit_of_a_query_and_its_authority_records()
    {
        var query = new DnsMessage
        {
            Truncated = true,
            Questions = [new("Room._localws._tcp.local.", DnsType.Any)],
            Authorities = [new SrvRecord("Room._localws._tcp.local.", 120, true, 0, 0, 8080, "h-lws.local.")],
        };
        var bytes = query.Encode();

        Assert.True(DnsMessage.TryParse(bytes, out var parsed));
        Assert.True(parsed.Truncated);
        Assert.Equal(0x02, bytes[2]);
        Assert.Equal(query.Authorities, parsed.Authorities);
        Assert.True(DnsMessage.TryParse(new DnsMessage { Questions = query.Questions }.Encode(), out var plain));
        Assert.False(plain.Truncated);
    }

    [Fact]
    public void Truncated_packets_are_refused_at_every_length()
    {
        var bytes = Sample().Encode();
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(DnsMessage.TryParse(bytes.AsSpan(0, length), out _), $"length {length}");
        }
    }

    [Fact]
    public void Compression_loops_and_forward_pointers_are_refused()
    {
        // One question whose name is a pointer to itself.
        byte[] selfLoop = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 12, 0, 1];
        // A name whose pointer jumps forward, into the question type.
        byte[] forward = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 12, 0, 1];
        // Two pointers that point at each other.
        byte[] pingPong = [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, (byte)'a', 0xC0, 18, 0, 12, 0, 1, 0xC0, 12, 0, 12, 0, 1];

        Assert.False(DnsMessage.TryParse(selfLoop, out _));
        Assert.False(DnsMessage.TryParse(forward, out _));
        Assert.False(DnsMessage.TryParse(pingPong, out _));
    }

    [Fact]
    public void Huge_counts_long_labels_and_long_names_are_refused()
    {
        byte[] hugeCounts = [0, 0, 0x84, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 12, 0, 1];
        var longLabel = new byte[12 + 1 + 64 + 1 + 4];
        longLabel[5] = 1;
        longLabel[12] = 64;
        var longName = new List<byte> { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        for (var i = 0; i < 5; i++)
        {
            longName.Add(60);
            longName.AddRange(Enumerable.Repeat((byte)'x', 60));
        }

        longName.AddRange([0, 0, 12, 0, 1]);

        Assert.False(DnsMessage.TryParse(hugeCounts, out _));
        Assert.False(DnsMessage.TryParse(longLabel, out _));
        Assert.False(DnsMessage.TryParse(longName.ToArray(), out _));
        Assert.False(DnsMessage.TryParse(new byte[DnsMessage.MaxPacketSize + 1], out _));
    }

    [Fact]
    public void Random_and_mutated_packets_never_throw()
    {
        var random = new Random(2026);
        var sample = Sample().Encode();
        for (var i = 0; i < 20_000; i++)
        {
            var packet = i % 2 == 0 ? new byte[random.Next(0, 600)] : (byte[])sample.Clone();
            if (i % 2 == 0)
            {
                random.NextBytes(packet);
            }
            else
            {
                for (var flips = 0; flips < 1 + random.Next(8); flips++)
                {
                    packet[random.Next(packet.Length)] = (byte)random.Next(256);
                }
            }

            DnsMessage.TryParse(packet, out _);
        }

        Assert.True(DnsMessage.TryParse(sample, out _));
    }

    [Fact]
    public void Address_records_with_wrong_lengths_are_refused()
    {
        var bytes = new DnsMessage { IsResponse = true, Answers = [new AddressRecord("h.local.", 120, false, IPAddress.Loopback)] }.Encode();
        bytes[^5] = 5;

        Assert.False(DnsMessage.TryParse(bytes, out _));
    }
}
