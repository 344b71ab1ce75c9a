using System.Buffers;
using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>
/// Form-style query strings, as Dart's <c>Uri.encodeQueryComponent</c> writes them and
/// <c>Uri.queryParameters</c> reads them: UTF-8, <c>+</c> for space, <c>%XX</c> for other bytes.
/// </summary>
public static class QueryString
{
    /// <summary>
    /// Decodes <paramref name="query"/> (without the leading <c>?</c>) into a dictionary. A repeated key
    /// keeps its last value, as Dart's <c>queryParameters</c> does; a key without <c>=</c> has an empty value.
    /// Malformed escapes are kept literally rather than refused, and invalid UTF-8 becomes U+FFFD.
    /// </summary>
    public static Dictionary<string, string> Parse(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query))
        {
            return result;
        }

        foreach (var range in query.AsSpan().Split('&'))
        {
            var pair = query.AsSpan(range);
            if (pair.IsEmpty)
            {
                continue;
            }

            var equals = pair.IndexOf('=');
            var key = Decode(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Decode(pair[(equals + 1)..]);
            result[key] = value;
        }

        return result;
    }

    /// <summary>
    /// Encodes pairs as a query string without the leading <c>?</c>. Letters, digits and <c>-._~</c> stay;
    /// space becomes <c>+</c>; every other UTF-8 byte becomes upper-case <c>%XX</c>. A key whose value is
    /// empty is written alone, without <c>=</c>, as Dart does.
    /// </summary>
    public static string Build(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var builder = new StringBuilder();
        foreach (var (key, value) in pairs)
        {
            if (builder.Length > 0)
            {
                builder.Append('&');
            }

            Encode(builder, key);
            if (!string.IsNullOrEmpty(value))
            {
                builder.Append('=');
                Encode(builder, value);
            }
        }

        return builder.ToString();
    }

    private static void Encode(StringBuilder builder, string text)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(text.Length);
        var rented = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            var count = Encoding.UTF8.GetBytes(text, rented);
            foreach (var b in rented.AsSpan(0, count))
            {
                if (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~')
                {
                    builder.Append((char)b);
                }
                else if (b == (byte)' ')
                {
                    builder.Append('+');
                }
                else
                {
                    builder.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static string Decode(ReadOnlySpan<char> text)
    {
        if (!text.ContainsAny('+', '%'))
        {
            return text.ToString();
        }

        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            var count = 0;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '+')
                {
                    bytes[count++] = (byte)' ';
                }
                else if (c == '%' && i + 2 < text.Length
                    && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
                {
                    bytes[count++] = (byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2]));
                    i += 2;
                }
                else
                {
                    var length = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                    count += Encoding.UTF8.GetBytes(text.Slice(i, length), bytes.AsSpan(count));
                    i += length - 1;
                }
            }

            return Encoding.UTF8.GetString(bytes, 0, count);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
