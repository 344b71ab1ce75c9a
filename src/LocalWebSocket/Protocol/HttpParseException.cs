namespace LocalWebSocket.Protocol;

/// <summary>
/// A request or response head that breaks HTTP/1.1 rules or our limits. <see cref="StatusCode"/> is the
/// status a server answers with (400, 414, 431, 505...).
/// </summary>
internal sealed class HttpParseException : Exception
{
    public HttpParseException(int statusCode, string message)
        : base(message) => StatusCode = statusCode;

    public int StatusCode { get; }
}
