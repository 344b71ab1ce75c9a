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
    public static byte[] Error(int statusCode, string contentType, string body, string extraHeaders = "")
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

    /// <summary>
    /// The refusal of a request that failed authentication, with the JSON body Dart <c>local_websocket</c>
    /// servers send: <c>{"error":{"code":"AUTHENTICATION_FAILED","message":...,"statusCode":...}}</c>.
    /// </summary>
    public static byte[] AuthenticationFailed(int statusCode, string message)
    {
        using var body = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("code", "AUTHENTICATION_FAILED");
            json.WriteString("message", message);
            json.WriteNumber("statusCode", statusCode);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Error(statusCode, "application/json; charset=utf-8", Encoding.UTF8.GetString(body.ToArray()));
    }

    /// <summary>A plain-text error response that closes the connection.</summary>
    public static byte[] PlainError(int statusCode, string message, string extraHeaders = "") =>
        Error(statusCode, "text/plain; charset=utf-8", message + "\n", extraHeaders);

    /// <summary>The 101 answer to a valid upgrade request.</summary>
    public static byte[] SwitchingProtocols(string accept, string? subProtocol)
    {
        var response = subProtocol is null
            ? $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            : $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {subProtocol}\r\n\r\n";
        return Encoding.ASCII.GetBytes(response);
    }
}
