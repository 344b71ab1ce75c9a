using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>
/// A DNS message (RFC 1035) as mDNS uses it. Parsing is strict and bounded: compression pointers must
/// point backwards (so they cannot loop), names are at most 255 bytes, counts must fit the packet, and any
/// malformed packet is refused by <see cref="TryParse"/> without an exception.
/// </summary>
internal sealed class DnsMessage
{
    /// <summary>The largest packet we read or write (RFC 6762 section 17: 9000 minus headers).</summary>
    public const int MaxPacketSize = 9000;

    private const int HeaderSize = 12;
    private const int MaxNameLength = 255;
    private const int MaxLabelLength = 63;
    private const ushort ResponseFlags = 0x8400;
    private const ushort TopBit = 0x8000;
    private const ushort TruncatedFlag = 0x0200;

    public ushort Id { get; init; }

    public bool IsResponse { get; init; }

    /// <summary>
    /// The TC bit. In an mDNS query it says more known answers follow in the next packets from the same
    /// sender (RFC 6762 section 7.2), and a responder waits for them before answering.
    /// </summary>
    public bool Truncated { get; init; }

    public List<DnsQuestion> Questions { get; init; } = [];

    public List<DnsRecord> Answers { get; init; } = [];

    public List<DnsRecord> Authorities { get; init; } = [];

    public List<DnsRecord> Additionals { get; init; } = [];

    /// <summary>Every record of the answer, authority and additional sections.</summary>
    public IEnumerable<DnsRecord> AllRecords => Answers.Concat(Authorities).Concat(Additionals);

    public static bool TryParse(ReadOnlySpan<byte> packet, out DnsMessage message)
    {
        message = null!;
        if (packet.Length < HeaderSize || packet.Length > MaxPacketSize)
        {
            return false;
        }

        var id = BinaryPrimitives.ReadUInt16BigEndian(packet);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        var counts = new int[4];
        for (var i = 0; i < 4; i++)
        {
            counts[i] = BinaryPrimitives.ReadUInt16BigEndian(packet[(4 + (2 * i))..]);
        }

        // A question takes at least 5 bytes and a record 11: counts that cannot fit are lies.
        if (HeaderSize + (counts[0] * 5) + ((counts[1] + counts[2] + counts[3]) * 11L) > packet.Length)
        {
            return false;
        }

        var offset = HeaderSize;
        var questions = new List<DnsQuestion>(counts[0]);
        for (var i = 0; i < counts[0]; i++)
        {
            if (!TryReadName(packet, ref offset, out var name) || offset + 4 > packet.Length)
            {
                return false;
            }

            var type = BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
            var @class = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]);
            offset += 4;
            questions.Add(new DnsQuestion(name, (DnsType)type, (@class & TopBit) != 0));
        }

        var sections = new List<DnsRecord>[3];
        for (var section = 0; section < 3; section++)
        {
            sections[section] = new List<DnsRecord>(counts[section + 1]);
            for (var i = 0; i < counts[section + 1]; i++)
            {
                if (!TryReadRecord(packet, ref offset, out var record))
                {
                    return false;
                }

                sections[section].Add(record);
            }
        }

        message = new DnsMessage
        {
            Id = id,
            IsResponse = (flags & TopBit) != 0,
            Truncated = (flags & TruncatedFlag) != 0,
            Questions = questions,
            Answers = sections[0],
            Authorities = sections[1],
            Additionals = sections[2],
        };
        return true;
    }

    /// <summary>Encodes the message, compressing repeated name suffixes.</summary>
    /// <exception cref="InvalidOperationException">The message does not fit <see cref="MaxPacketSize"/>.</exception>
    public byte[] Encode() =>
        TryEncode(out var packet) ? packet : throw new InvalidOperationException("The DNS message is larger than one mDNS packet.");

    /// <summary>Encodes the message; false when it does not fit <see cref="MaxPacketSize"/>.</summary>
    /// <exception cref="InvalidOperationException">A name or TXT entry cannot be encoded at all (a label over 63 bytes).</exception>
    public bool TryEncode(out byte[] packet)
    {
        var writer = new Writer();
        writer.UInt16(Id);
        writer.UInt16((ushort)((IsResponse ? ResponseFlags : 0) | (Truncated ? TruncatedFlag : 0)));
        writer.UInt16((ushort)Questions.Count);
        writer.UInt16((ushort)Answers.Count);
        writer.UInt16((ushort)Authorities.Count);
        writer.UInt16((ushort)Additionals.Count);
        foreach (var question in Questions)
        {
            writer.Name(question.Name);
            writer.UInt16((ushort)question.Type);
            writer.UInt16((ushort)(1 | (question.UnicastResponse ? TopBit : 0)));
        }

        foreach (var record in AllRecords)
        {
            writer.Record(record);
        }

        return writer.TryToArray(out packet);
    }

    private static bool TryReadRecord(ReadOnlySpan<byte> packet, ref int offset, out DnsRecord record)
    {
        record = null!;
        if (!TryReadName(packet, ref offset, out var name) || offset + 10 > packet.Length)
        {
            return false;
        }

        var type = (DnsType)BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
        var @class = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]);
        var ttl = BinaryPrimitives.ReadUInt32BigEndian(packet[(offset + 4)..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 8)..]);
        offset += 10;
        if (offset + length > packet.Length)
        {
            return false;
        }

        var dataStart = offset;
        var dataEnd = offset + length;
        var flush = (@class & TopBit) != 0;
        offset = dataEnd;
        switch (type)
        {
            case DnsType.Ptr:
                var pointerOffset = dataStart;
                if (!TryReadName(packet, ref pointerOffset, out var target) || pointerOffset > dataEnd)
                {
                    return false;
                }

                record = new PtrRecord(name, ttl, target);
                return true;

            case DnsType.Srv:
                if (length < 7)
                {
                    return false;
                }

                var srvOffset = dataStart + 6;
                if (!TryReadName(packet, ref srvOffset, out var host) || srvOffset > dataEnd)
                {
                    return false;
                }

                record = new SrvRecord(
                    name, ttl, flush,
                    BinaryPrimitives.ReadUInt16BigEndian(packet[dataStart..]),
                    BinaryPrimitives.ReadUInt16BigEndian(packet[(dataStart + 2)..]),
                    BinaryPrimitives.ReadUInt16BigEndian(packet[(dataStart + 4)..]),
                    host);
                return true;

            case DnsType.Txt:
                var entries = new List<string>();
                var position = dataStart;
                while (position < dataEnd)
                {
                    var size = packet[position++];
                    if (position + size > dataEnd)
                    {
                        return false;
                    }

                    if (size > 0)
                    {
                        entries.Add(Encoding.UTF8.GetString(packet.Slice(position, size)));
                    }

                    position += size;
                }

                record = new TxtRecord(name, ttl, flush, entries);
                return true;

            case DnsType.A when length == 4:
            case DnsType.Aaaa when length == 16:
                record = new AddressRecord(name, ttl, flush, new IPAddress(packet.Slice(dataStart, length)));
                return true;

            case DnsType.A or DnsType.Aaaa:
                return false;

            default:
                record = new OtherRecord(name, type, ttl, flush);
                return true;
        }
    }

    /// <summary>Reads a possibly compressed name; pointers may only point backwards, which bounds the walk.</summary>
    private static bool TryReadName(ReadOnlySpan<byte> packet, ref int offset, out string name)
    {
        name = "";
        var builder = new StringBuilder();
        var position = offset;
        var jumped = false;
        var lowestJump = offset;
        var length = 0;
        while (true)
        {
            if (position >= packet.Length)
            {
                return false;
            }

            var label = packet[position];
            if (label == 0)
            {
                position++;
                break;
            }

            if ((label & 0xC0) == 0xC0)
            {
                if (position + 1 >= packet.Length)
                {
                    return false;
                }

                var target = ((label & 0x3F) << 8) | packet[position + 1];
                if (target >= lowestJump)
                {
                    return false;
                }

                if (!jumped)
                {
                    offset = position + 2;
                    jumped = true;
                }

                lowestJump = target;
                position = target;
                continue;
            }

            if ((label & 0xC0) != 0 || label > MaxLabelLength || position + 1 + label > packet.Length)
            {
                return false;
            }

            length += label + 1;
            if (length > MaxNameLength)
            {
                return false;
            }

            builder.Append(Encoding.UTF8.GetString(packet.Slice(position + 1, label))).Append('.');
            position += 1 + label;
        }

        if (!jumped)
        {
            offset = position;
        }

        name = builder.Length == 0 ? "." : builder.ToString();
        return true;
    }

    /// <summary>
    /// A record's data as uncompressed bytes: what RFC 6762 section 8.2 compares to break a tie between two
    /// hosts probing for one name, and section 9 compares to tell a conflicting record from a copy of ours.
    /// </summary>
    /// <exception cref="InvalidOperationException">The record cannot be encoded (<see cref="OtherRecord"/>, a label over 63 bytes).</exception>
    internal static byte[] RData(DnsRecord record)
    {
        var writer = new Writer(compress: false);
        writer.Data(record);
        return writer.TryToArray(out var data) ? data : throw new InvalidOperationException("The record's data is larger than one mDNS packet.");
    }

    private sealed class Writer(bool compress = true)
    {
        private readonly MemoryStream _buffer = new();
        private readonly Dictionary<string, int> _names = new(StringComparer.OrdinalIgnoreCase);

        public void UInt16(ushort value)
        {
            Span<byte> bytes = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void UInt32(uint value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void Name(string name)
        {
            var labels = name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < labels.Length; i++)
            {
                var suffix = string.Join('.', labels, i, labels.Length - i);
                if (compress && _names.TryGetValue(suffix, out var pointer))
                {
                    UInt16((ushort)(0xC000 | pointer));
                    return;
                }

                if (_buffer.Position < 0x3FFF)
                {
                    _names[suffix] = (int)_buffer.Position;
                }

                var bytes = Encoding.UTF8.GetBytes(labels[i]);
                if (bytes.Length > MaxLabelLength)
                {
                    throw new InvalidOperationException($"DNS label '{labels[i]}' is longer than 63 bytes.");
                }

                _buffer.WriteByte((byte)bytes.Length);
                _buffer.Write(bytes);
            }

            _buffer.WriteByte(0);
        }

        public void Record(DnsRecord record)
        {
            Name(record.Name);
            UInt16((ushort)record.Type);
            UInt16((ushort)(1 | (record.CacheFlush ? TopBit : 0)));
            UInt32(record.Ttl);
            var lengthAt = _buffer.Position;
            UInt16(0);
            var dataStart = _buffer.Position;
            Data(record);
            var end = _buffer.Position;
            _buffer.Position = lengthAt;
            UInt16((ushort)(end - dataStart));
            _buffer.Position = end;
        }

        public void Data(DnsRecord record)
        {
            switch (record)
            {
                case PtrRecord ptr:
                    Name(ptr.Target);
                    break;
                case SrvRecord srv:
                    UInt16(srv.Priority);
                    UInt16(srv.Weight);
                    UInt16(srv.Port);
                    Name(srv.Target);
                    break;
                case TxtRecord txt:
                    if (txt.Entries.Count == 0)
                    {
                        _buffer.WriteByte(0);
                    }

                    foreach (var entry in txt.Entries)
                    {
                        var bytes = Encoding.UTF8.GetBytes(entry);
                        if (bytes.Length > 255)
                        {
                            throw new InvalidOperationException("A TXT entry is at most 255 bytes.");
                        }

                        _buffer.WriteByte((byte)bytes.Length);
                        _buffer.Write(bytes);
                    }

                    break;
                case AddressRecord address:
                    _buffer.Write(address.Address.GetAddressBytes());
                    break;
                default:
                    throw new InvalidOperationException($"Cannot encode a {record.Type} record.");
            }
        }

        public bool TryToArray(out byte[] packet)
        {
            packet = _buffer.Length <= MaxPacketSize ? _buffer.ToArray() : [];
            return _buffer.Length <= MaxPacketSize;
        }
    }
}
