namespace LocalWebSocket.Protocol;

/// <summary>
/// What makes a WebSocket upgrade request one we accept (RFC 6455 section 4.2.1), and the negotiation of its
/// subprotocol and origin. Every host applies these same rules, whoever parsed the request.
/// </summary>
internal static class UpgradeRules
{
    /// <summary>The refusal of a request that no route of ours takes, for its body; null when it has none.</summary>
    /// <remarks>No route takes a body, and reading one we would ignore is how requests get smuggled.</remarks>
    public static HandshakeRefusal? CheckNoBody(IReadOnlyList<KeyValuePair<string, string>> headers) =>
        HeaderList.Count(headers, "Transfer-Encoding") > 0
        || (HeaderList.TryGet(headers, "Content-Length", out var length) && (length != "0" || HeaderList.Count(headers, "Content-Length") > 1))
            ? HandshakeRefusal.Plain(400, "Request bodies are not accepted.")
            : null;

    /// <summary>The refusal of a request to the WebSocket path that is not a valid upgrade; null for a valid one.</summary>
    /// <param name="method">The request method.</param>
    /// <param name="isHttp11">Whether the request is HTTP/1.1 (upgrades need it).</param>
    /// <param name="headers">The request headers.</param>
    public static HandshakeRefusal? CheckUpgrade(string method, bool isHttp11, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        if (CheckNoBody(headers) is { } body)
        {
            return body;
        }

        if (method != "GET")
        {
            return HandshakeRefusal.Plain(405, "WebSocket upgrades use GET.", "Allow", "GET");
        }

        if (!isHttp11 || !HeaderList.ContainsToken(headers, "Upgrade", "websocket") || !HeaderList.ContainsToken(headers, "Connection", "Upgrade"))
        {
            return HandshakeRefusal.Plain(400, "This endpoint takes WebSocket upgrade requests only.");
        }

        if (HeaderList.Count(headers, "Sec-WebSocket-Version") != 1
            || !HeaderList.TryGet(headers, "Sec-WebSocket-Version", out var version) || version != ProtocolConstants.WebSocketVersion)
        {
            return HandshakeRefusal.Plain(426, "Only WebSocket version 13 is supported.", "Sec-WebSocket-Version", ProtocolConstants.WebSocketVersion);
        }

        if (HeaderList.Count(headers, "Sec-WebSocket-Key") != 1
            || !HeaderList.TryGet(headers, "Sec-WebSocket-Key", out var key) || !WebSocketHandshake.IsValidKey(key))
        {
            return HandshakeRefusal.Plain(400, "Missing or invalid Sec-WebSocket-Key.");
        }

        return null;
    }

    /// <summary>The server's most preferred subprotocol among those the client offers, or null.</summary>
    public static string? NegotiateSubProtocol(IReadOnlyList<KeyValuePair<string, string>> headers, IList<string> supported)
    {
        foreach (var candidate in supported)
        {
            for (var i = 0; i < headers.Count; i++)
            {
                var offered = headers[i];
                if (!string.Equals(offered.Key, "Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                foreach (var range in offered.Value.AsSpan().Split(','))
                {
                    if (offered.Value.AsSpan(range).Trim(" \t").SequenceEqual(candidate))
                    {
                        return candidate;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Browsers send <c>Origin</c>; when an allow-list is set, only listed origins (and non-browsers) pass.</summary>
    public static bool OriginAllowed(IReadOnlyList<KeyValuePair<string, string>> headers, IList<string> allowedOrigins)
    {
        if (allowedOrigins.Count == 0 || !HeaderList.TryGet(headers, "Origin", out var origin))
        {
            return true;
        }

        // A loop, not a lambda: a lambda capturing the origin would cost an object on every upgrade.
        foreach (var allowed in allowedOrigins)
        {
            if (string.Equals(allowed.TrimEnd('/'), origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
