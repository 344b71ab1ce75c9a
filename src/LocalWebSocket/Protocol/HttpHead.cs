using System.Diagnostics.CodeAnalysis;

namespace LocalWebSocket.Protocol;

/// <summary>
/// A parsed HTTP/1.1 request or response head. Header names keep their case; look-ups ignore it.
/// </summary>
internal sealed class HttpHead
{
    private readonly KeyValuePair<string, string>[] _headers;

    private HttpHead(KeyValuePair<string, string>[] headers) => _headers = headers;

    /// <summary>Request method (requests only).</summary>
    public string Method { get; private init; } = "";

    /// <summary>Raw request target (requests only), e.g. <c>/ws?name=a+b</c>.</summary>
    public string Target { get; private init; } = "";

    /// <summary>HTTP version minor digit: 1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int MinorVersion { get; private init; }

    /// <summary>Status code (responses only).</summary>
    public int StatusCode { get; private init; }

    /// <summary>Reason phrase (responses only).</summary>
    public string ReasonPhrase { get; private init; } = "";

    /// <summary>Headers in the order they arrived.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>The path part of <see cref="Target"/>, before any <c>?</c>.</summary>
    public string Path
    {
        get
        {
            var end = Target.AsSpan().IndexOfAny('?', '#');
            return end < 0 ? Target : Target[..end];
        }
    }

    /// <summary>
    /// The query part of <see cref="Target"/> without the <c>?</c>, or <see langword="null"/> when there is
    /// none. A fragment marker is tolerated and cut off: some Dart clients put an empty one in the URL.
    /// </summary>
    public string? Query
    {
        get
        {
            var q = Target.IndexOf('?', StringComparison.Ordinal);
            if (q < 0)
            {
                return null;
            }

            var hash = Target.IndexOf('#', q);
            return hash < 0 ? Target[(q + 1)..] : Target[(q + 1)..hash];
        }
    }

    /// <summary>The number of headers named <paramref name="name"/>.</summary>
    public int CountHeader(string name) => HeaderList.Count(_headers, name);

    /// <summary>The values of every header named <paramref name="name"/>, in order.</summary>
    public IEnumerable<string> HeaderValues(string name) => HeaderList.Values(_headers, name);

    /// <summary>Gets the first header named <paramref name="name"/>.</summary>
    public bool TryGetHeader(string name, [NotNullWhen(true)] out string? value) => HeaderList.TryGet(_headers, name, out value);

    /// <summary>Whether any header named <paramref name="name"/> holds <paramref name="token"/> in its comma-separated list.</summary>
    public bool HeaderContainsToken(string name, string token) => HeaderList.ContainsToken(_headers, name, token);

    /// <summary>Parses a request head (the bytes up to and including the blank line).</summary>
    /// <exception cref="HttpParseException">The head is malformed or over a limit.</exception>
    public static HttpHead ParseRequest(ReadOnlySpan<byte> head, int maxHeaderCount)
    {
        var lineEnd = FindLineEnd(head);
        var requestLine = head[..lineEnd];

        var firstSpace = requestLine.IndexOf((byte)' ');
        if (firstSpace <= 0)
        {
            throw new HttpParseException(400, "Malformed request line.");
        }

        var method = requestLine[..firstSpace];
        var rest = requestLine[(firstSpace + 1)..];
        var secondSpace = rest.IndexOf((byte)' ');
        if (secondSpace <= 0)
        {
            throw new HttpParseException(400, "Malformed request line.");
        }

        var target = rest[..secondSpace];
        var version = rest[(secondSpace + 1)..];

        if (!IsToken(method))
        {
            throw new HttpParseException(400, "Invalid request method.");
        }

        // Origin-form only ("/path?query"): absolute-form is for proxies and "*" for OPTIONS.
        if (target[0] != (byte)'/' || !IsVisibleAscii(target))
        {
            throw new HttpParseException(400, "Invalid request target.");
        }

        var minor = ParseVersion(version);

        var headers = ParseHeaderLines(head[(lineEnd + 2)..], maxHeaderCount);
        return new HttpHead(headers)
        {
            Method = CommonText.Get(method, System.Text.Encoding.ASCII),
            Target = CommonText.Get(target, System.Text.Encoding.ASCII),
            MinorVersion = minor,
        };
    }

    /// <summary>Parses a response head (the bytes up to and including the blank line).</summary>
    /// <exception cref="HttpParseException">The head is malformed or over a limit.</exception>
    public static HttpHead ParseResponse(ReadOnlySpan<byte> head, int maxHeaderCount)
    {
        var lineEnd = FindLineEnd(head);
        var statusLine = head[..lineEnd];

        // "HTTP/1.1 101 Switching Protocols": the reason phrase may be empty, the space before it may not.
        if (statusLine.Length < 12 || statusLine[8] != (byte)' ' || (statusLine.Length > 12 && statusLine[12] != (byte)' '))
        {
            throw new HttpParseException(400, "Malformed status line.");
        }

        var minor = ParseVersion(statusLine[..8]);
        var code = statusLine.Slice(9, 3);
        if (!char.IsAsciiDigit((char)code[0]) || !char.IsAsciiDigit((char)code[1]) || !char.IsAsciiDigit((char)code[2]))
        {
            throw new HttpParseException(400, "Malformed status code.");
        }

        var reason = statusLine.Length > 13 ? statusLine[13..] : [];
        if (!IsFieldValue(reason))
        {
            throw new HttpParseException(400, "Invalid reason phrase.");
        }

        var headers = ParseHeaderLines(head[(lineEnd + 2)..], maxHeaderCount);
        return new HttpHead(headers)
        {
            MinorVersion = minor,
            StatusCode = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0'),
            ReasonPhrase = System.Text.Encoding.Latin1.GetString(reason),
        };
    }

    private static int ParseVersion(ReadOnlySpan<byte> version)
    {
        if (version.Length == 8 && version.StartsWith("HTTP/"u8) && version[6] == (byte)'.'
            && char.IsAsciiDigit((char)version[5]) && char.IsAsciiDigit((char)version[7]))
        {
            if (version[5] == (byte)'1' && version[7] is (byte)'0' or (byte)'1')
            {
                return version[7] - '0';
            }

            throw new HttpParseException(505, "HTTP version not supported.");
        }

        throw new HttpParseException(400, "Malformed HTTP version.");
    }

    private static KeyValuePair<string, string>[] ParseHeaderLines(ReadOnlySpan<byte> lines, int maxHeaderCount)
    {
        // Exactly as many slots as there are lines (the block ends with an empty line): no list, no growth.
        var lineCount = Math.Max(lines.Count("\r\n"u8) - 1, 0);
        var headers = lineCount == 0 ? [] : new KeyValuePair<string, string>[Math.Min(lineCount, maxHeaderCount)];
        var count = 0;
        while (true)
        {
            var lineEnd = FindLineEnd(lines);
            if (lineEnd == 0)
            {
                return count == headers.Length ? headers : headers[..count];
            }

            var line = lines[..lineEnd];
            lines = lines[(lineEnd + 2)..];

            // obs-fold (a continuation line) is obsolete and a request-smuggling vector: refuse it.
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                throw new HttpParseException(400, "Folded header lines are not accepted.");
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                throw new HttpParseException(400, "Malformed header line.");
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (!IsFieldValue(value))
            {
                throw new HttpParseException(400, "Invalid character in a header value.");
            }

            if (count == maxHeaderCount)
            {
                throw new HttpParseException(431, "Too many header fields.");
            }

            if (count == headers.Length)
            {
                // Only a block that lacks its empty line gets here, and it is refused at its end.
                Array.Resize(ref headers, count + 1);
            }

            headers[count++] = new(
                CommonText.Get(line[..colon], System.Text.Encoding.ASCII),
                CommonText.Get(value, System.Text.Encoding.Latin1));
        }
    }

    /// <summary>Index of the CR of the next CRLF. A lone CR or LF anywhere in the line is refused.</summary>
    private static int FindLineEnd(ReadOnlySpan<byte> data)
    {
        var index = data.IndexOfAny((byte)'\r', (byte)'\n');
        if (index < 0 || data[index] != (byte)'\r' || index + 1 >= data.Length || data[index + 1] != (byte)'\n')
        {
            throw new HttpParseException(400, "Lines must end with CRLF.");
        }

        return index;
    }

    private static bool IsToken(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!IsTokenChar(b))
            {
                return false;
            }
        }

        return true;
    }

    // RFC 9110 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static bool IsTokenChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b);

    private static bool IsVisibleAscii(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if (b is < 0x21 or > 0x7E)
            {
                return false;
            }
        }

        return true;
    }

    // field-value: VCHAR, SP, HTAB and obs-text; never CTLs (NUL, bare CR/LF, DEL).
    private static bool IsFieldValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return false;
            }
        }

        return true;
    }
}
