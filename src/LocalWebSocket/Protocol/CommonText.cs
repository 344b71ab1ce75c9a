using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>
/// The text of request heads that nearly every WebSocket client sends the same (header names, the upgrade
/// tokens, <c>GET</c>, <c>/ws</c>): one shared string each instead of a new one per connection, which was
/// about a third of the garbage a handshake left behind.
/// </summary>
internal static class CommonText
{
    private static readonly (byte[] Bytes, string Text)[] Known = Build(
        "GET", "HEAD", "/", "/ws",
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol", "Origin", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Cache-Control",
        "Pragma", "Content-Length",
        "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
        "sec-websocket-protocol", "origin", "user-agent", "accept", "accept-encoding", "cache-control", "pragma",
        "websocket", "Upgrade", "upgrade", "keep-alive, Upgrade", "Keep-Alive, Upgrade", "keep-alive", "close", "13",
        "permessage-deflate; client_max_window_bits", "permessage-deflate", "no-cache", "*/*", "127.0.0.1");

    /// <summary>The shared string for <paramref name="bytes"/> when it is common text, else a new one.</summary>
    public static string Get(ReadOnlySpan<byte> bytes, Encoding encoding)
    {
        foreach (var (known, text) in Known)
        {
            if (known.Length == bytes.Length && bytes.SequenceEqual(known))
            {
                return text;
            }
        }

        return encoding.GetString(bytes);
    }

    private static (byte[], string)[] Build(params string[] texts) =>
        [.. texts.Distinct(StringComparer.Ordinal).Select(text => (Encoding.ASCII.GetBytes(text), text))];
}
