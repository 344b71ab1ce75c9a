using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>Builds the few HTTP/1.1 responses the server sends; all are small and written in one go.</summary>
internal static class HttpResponses
{
    /// <summary>The reason phrase of the statuses we answer with.</summary>
    public static string ReasonPhrase(int statusCode) => statusCode switch
    {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };

    /// <summary>
    /// The details document: exactly one <c>Server</c> header, a JSON object body, a length-delimited body
    /// (no chunking), and no body at all for <c>HEAD</c>.
    /// </summary>
    public static byte[] Details(ReadOnlySpan<byte> jsonBody, bool includeBody, bool close)
    {
        var head = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"HTTP/1.1 200 OK\r\nServer: {ProtocolConstants.ServerHeaderValue}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {jsonBody.Length}\r\nCache-Control: no-store\r\n{(close ? "Connection: close\r\n" : "")}\r\n");
        var headLength = Encoding.ASCII.GetByteCount(head);
        var response = new byte[headLength + (includeBody ? jsonBody.Length : 0)];
        Encoding.ASCII.GetBytes(head, response);
        if (includeBody)
        {
            jsonBody.CopyTo(response.AsSpan(headLength));
        }

        return response;
    }

    /// <summary>An error response that closes the connection.</summary>
    /// <param name="statusCode">The status.</param>
    /// <param name="contentType">The body's content type.</param>
    /// <param name="body">The body.</param>
    /// <param name="extraHeaders">Extra header lines, each ending in CRLF.</param>
    private static byte[] Error(int statusCode, string contentType, string body, string extraHeaders = "")
    {
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"HTTP/1.1 {statusCode} {ReasonPhrase(statusCode)}\r\nContent-Type: {contentType}\r\nContent-Length: {bodyBytes.Length}\r\nConnection: close\r\n{extraHeaders}\r\n");
        var headLength = Encoding.ASCII.GetByteCount(head);
        var response = new byte[headLength + bodyBytes.Length];
        Encoding.ASCII.GetBytes(head, response);
        bodyBytes.CopyTo(response, headLength);
        return response;
    }

    /// <summary>A refusal as the response our listener writes before it closes the connection.</summary>
    public static byte[] Error(HandshakeRefusal refusal) =>
        Error(refusal.StatusCode, refusal.ContentType, refusal.Body, refusal.Header is { } header ? $"{header.Key}: {header.Value}\r\n" : "");

    /// <summary>The largest 101 response <see cref="WriteSwitchingProtocols"/> writes for <paramref name="subProtocol"/> and <paramref name="extensions"/>.</summary>
    public static int SwitchingProtocolsMaxLength(string? subProtocol, string? extensions = null) =>
        SwitchingProtocolsStart.Length + WebSocketHandshake.AcceptLength + SubProtocolLine.Length + (subProtocol?.Length ?? 0)
        + ExtensionsLine.Length + (extensions?.Length ?? 0) + 4;

    /// <summary>
    /// Writes the 101 answer to a valid upgrade request into <paramref name="destination"/> (at least
    /// <see cref="SwitchingProtocolsMaxLength"/> bytes) and returns its length. It is written as bytes, with
    /// the accept value computed in place: one response per connection, and no garbage for any of them.
    /// </summary>
    /// <param name="destination">Where the response goes.</param>
    /// <param name="key">The request's validated <c>Sec-WebSocket-Key</c>.</param>
    /// <param name="subProtocol">The negotiated subprotocol (an HTTP token, so ASCII), if any.</param>
    /// <param name="extensions">The accepted extensions (ASCII, built by us), if any.</param>
    public static int WriteSwitchingProtocols(Span<byte> destination, string key, string? subProtocol, string? extensions = null)
    {
        SwitchingProtocolsStart.CopyTo(destination);
        var length = SwitchingProtocolsStart.Length;
        WebSocketHandshake.WriteAccept(key, destination[length..]);
        length += WebSocketHandshake.AcceptLength;
        if (subProtocol is not null)
        {
            SubProtocolLine.CopyTo(destination[length..]);
            length += SubProtocolLine.Length;
            length += Encoding.ASCII.GetBytes(subProtocol, destination[length..]);
        }

        if (extensions is not null)
        {
            ExtensionsLine.CopyTo(destination[length..]);
            length += ExtensionsLine.Length;
            length += Encoding.ASCII.GetBytes(extensions, destination[length..]);
        }

        "\r\n\r\n"u8.CopyTo(destination[length..]);
        return length + 4;
    }

    private static ReadOnlySpan<byte> SwitchingProtocolsStart =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "u8;

    private static ReadOnlySpan<byte> SubProtocolLine => "\r\nSec-WebSocket-Protocol: "u8;

    private static ReadOnlySpan<byte> ExtensionsLine => "\r\nSec-WebSocket-Extensions: "u8;
}
