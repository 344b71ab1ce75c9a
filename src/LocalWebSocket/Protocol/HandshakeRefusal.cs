using System.Globalization;
using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>
/// The answer to a request the server does not serve: a status, a small body and at most one extra header.
/// Every host sends it its own way (our listener as bytes it writes and then closes, ASP.NET Core through its
/// response), so that a refusal reads the same whoever hosts the server.
/// </summary>
/// <param name="StatusCode">The HTTP status, 4xx or 5xx.</param>
/// <param name="ContentType">The body's content type.</param>
/// <param name="Body">The body.</param>
/// <param name="Header">An extra header (<c>Allow</c>, <c>Retry-After</c>, <c>Sec-WebSocket-Version</c>), if any.</param>
internal sealed record HandshakeRefusal(int StatusCode, string ContentType, string Body, KeyValuePair<string, string>? Header = null)
{
    private const string PlainText = "text/plain; charset=utf-8";

    /// <summary>A plain-text refusal: the message and a line feed.</summary>
    public static HandshakeRefusal Plain(int statusCode, string message, string? headerName = null, string? headerValue = null) =>
        new(statusCode, PlainText, message + "\n", headerName is null ? null : new(headerName, headerValue!));

    /// <summary>
    /// A refusal for a limit that will pass (429, 503): <c>Retry-After</c> in whole seconds, at least 1, so a
    /// well-behaved client waits that long instead of trying again at once.
    /// </summary>
    public static HandshakeRefusal Busy(int statusCode, string message, TimeSpan retryAfter) =>
        Plain(statusCode, message, "Retry-After", Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The refusal of a request that failed authentication, with the JSON body Dart <c>local_websocket</c>
    /// servers send: <c>{"error":{"code":"AUTHENTICATION_FAILED","message":...,"statusCode":...}}</c>.
    /// </summary>
    public static HandshakeRefusal AuthenticationFailed(int statusCode, string message)
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

        return new(statusCode, "application/json; charset=utf-8", Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length));
    }
}
