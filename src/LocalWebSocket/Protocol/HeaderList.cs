using System.Diagnostics.CodeAnalysis;

namespace LocalWebSocket.Protocol;

/// <summary>
/// Look-ups in a list of HTTP headers (names keep their case; look-ups ignore it), shared by our own parser's
/// <see cref="HttpHead"/> and by hosts that parse requests themselves (ASP.NET Core), so that every host applies
/// the same handshake rules to the same headers.
/// </summary>
/// <remarks>Loops by index: a foreach over the interface would allocate an enumerator per look-up, several per handshake.</remarks>
internal static class HeaderList
{
    /// <summary>The number of headers named <paramref name="name"/>.</summary>
    public static int Count(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        var count = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The values of every header named <paramref name="name"/>, in order.</summary>
    public static IEnumerable<string> Values(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                yield return header.Value;
            }
        }
    }

    /// <summary>Gets the first header named <paramref name="name"/>.</summary>
    public static bool TryGet(IReadOnlyList<KeyValuePair<string, string>> headers, string name, [NotNullWhen(true)] out string? value)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                value = header.Value;
                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>
    /// Whether any header named <paramref name="name"/> holds <paramref name="token"/> in its
    /// comma-separated list (case-insensitive), as <c>Connection: keep-alive, Upgrade</c> does.
    /// </summary>
    public static bool ContainsToken(IReadOnlyList<KeyValuePair<string, string>> headers, string name, string token)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (!string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var range in header.Value.AsSpan().Split(','))
            {
                if (header.Value.AsSpan(range).Trim(" \t").Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
