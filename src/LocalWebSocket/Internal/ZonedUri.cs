namespace LocalWebSocket.Internal;

/// <summary>
/// URLs whose host is an IPv6 address with a zone (<c>ws://[fe80::1%2]:8080/ws</c>, what a link-local server
/// found over mDNS needs). .NET's <see cref="Uri"/> keeps the zone in <see cref="Uri.IdnHost"/> and
/// <see cref="Uri.OriginalString"/>, and connects with it, but <see cref="Uri.ToString"/>, <see cref="Uri.Host"/>
/// and <see cref="UriBuilder"/> drop it; these keep it.
/// </summary>
internal static class ZonedUri
{
    /// <summary>Whether the host is an IPv6 address with a zone.</summary>
    public static bool HasZone(Uri uri) => uri.IsAbsoluteUri && uri.HostNameType == UriHostNameType.IPv6 && uri.IdnHost.Contains('%', StringComparison.Ordinal);

    /// <summary>The URL with another scheme and/or query (null: keep), without a fragment, and with its zone.</summary>
    public static Uri With(Uri uri, string? scheme = null, string? query = null)
    {
        if (!HasZone(uri))
        {
            var builder = new UriBuilder(uri) { Fragment = "" };
            if (scheme is not null)
            {
                builder.Scheme = scheme;
            }

            if (query is not null)
            {
                builder.Query = query;
            }

            return builder.Uri;
        }

        // UriBuilder would drop the zone: written out in full, the port always explicit (a scheme change moves the default).
        var queryText = query ?? uri.Query.TrimStart('?');
        var text = $"{scheme ?? uri.Scheme}://[{uri.IdnHost}]:{uri.Port}{uri.AbsolutePath}{(queryText.Length > 0 ? "?" + queryText : "")}";
        return new Uri(text);
    }

    /// <summary>The URL as text, with its zone when it has one.</summary>
    public static string Text(Uri uri) => HasZone(uri) ? With(uri).OriginalString : uri.ToString();
}
