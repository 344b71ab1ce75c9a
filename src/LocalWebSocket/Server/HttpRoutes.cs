using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Server;

/// <summary>Answers a <c>GET</c> (or <c>HEAD</c>) request to one of the application's routes.</summary>
/// <param name="request">The request.</param>
/// <param name="cancellationToken">Cancelled when the handshake timeout has passed, the client left or the server stops.</param>
/// <returns>The response; for <c>HEAD</c> the server sends its head only.</returns>
public delegate ValueTask<HttpRouteResponse> HttpRouteHandler(HttpRouteRequest request, CancellationToken cancellationToken);

/// <summary>
/// The application's own HTTP routes, served next to the details document at <c>/</c> and the WebSockets at
/// <c>/ws</c> (a web page, a status page, a small JSON API), with the same limits and timeouts as the handshake:
/// a request head within <see cref="LocalWebSocketServerOptions.MaxRequestHeadSize"/>, no request body, and an
/// answer within <see cref="LocalWebSocketServerOptions.HandshakeTimeout"/>. Routes answer <c>GET</c> and
/// <c>HEAD</c>; other methods get <c>405</c>. ASP.NET Core's <c>MapLocalWebSocket</c> maps them on Kestrel too.
/// </summary>
/// <example><code>options.Routes.MapGet("/status", (request, ct) => ValueTask.FromResult(HttpRouteResponse.Text("ok")));</code></example>
public sealed class HttpRouteTable
{
    private readonly Dictionary<string, HttpRouteHandler> _exact = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, HttpRouteHandler>> _prefixes = [];

    /// <summary>How many routes are mapped.</summary>
    public int Count => _exact.Count + _prefixes.Count;

    /// <summary>The mapped paths, exact ones first, each as it was mapped.</summary>
    public IEnumerable<string> Paths => _exact.Keys.Concat(_prefixes.Select(p => p.Key + "*"));

    /// <summary>
    /// Maps <paramref name="path"/> to <paramref name="handler"/>: an exact path (<c>/status</c>), or a prefix
    /// ending in <c>/*</c> (<c>/files/*</c> answers <c>/files/a.css</c> and <c>/files/</c>). An exact path wins
    /// over a prefix; of two prefixes, the longer wins. Paths are compared as sent (case-sensitive, not decoded).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The path does not start with <c>/</c>, holds a query, a fragment, a space or a control character, is one
    /// the server answers itself (<c>/</c>, <c>/ws</c>), or is mapped already.
    /// </exception>
    public void MapGet(string path, HttpRouteHandler handler)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(handler);
        var prefix = path.EndsWith("/*", StringComparison.Ordinal);
        var key = prefix ? path[..^1] : path;
        if (!key.StartsWith('/') || key.AsSpan().IndexOfAny("?# *") >= 0 || key.Any(char.IsControl))
        {
            throw new ArgumentException(
                $"'{path}' is not a route path: it starts with '/' and has no query, fragment, space or '*' (but a final '/*' for a prefix).", nameof(path));
        }

        if (!prefix && key is ProtocolConstants.DetailsPath or ProtocolConstants.WebSocketPath)
        {
            throw new ArgumentException($"'{path}' is the server's own (the details document is at /, WebSockets at /ws).", nameof(path));
        }

        if (prefix ? _prefixes.Exists(p => p.Key == key) : _exact.ContainsKey(key))
        {
            throw new ArgumentException($"'{path}' is mapped already.", nameof(path));
        }

        if (prefix)
        {
            _prefixes.Add(new(key, handler));
            // Longest first, so that the first match is the most specific.
            _prefixes.Sort(static (a, b) => b.Key.Length.CompareTo(a.Key.Length));
        }
        else
        {
            _exact.Add(key, handler);
        }
    }

    /// <summary>The handler for a request path (without its query), if a route matches it.</summary>
    internal HttpRouteHandler? Find(string path)
    {
        if (_exact.TryGetValue(path, out var handler))
        {
            return handler;
        }

        foreach (var (prefix, prefixHandler) in _prefixes)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return prefixHandler;
            }
        }

        return null;
    }

    /// <summary>A copy, for a server's own options.</summary>
    internal HttpRouteTable Clone()
    {
        var clone = new HttpRouteTable();
        foreach (var (path, handler) in _exact)
        {
            clone._exact.Add(path, handler);
        }

        clone._prefixes.AddRange(_prefixes);
        return clone;
    }
}

/// <summary>A request to one of the application's routes (see <see cref="HttpRouteTable"/>).</summary>
public sealed class HttpRouteRequest
{
    /// <summary>Describes a request; the server's listener and hosts (ASP.NET Core) make these.</summary>
    /// <param name="method"><c>GET</c> or <c>HEAD</c>.</param>
    /// <param name="path">The path, as sent, without the query.</param>
    /// <param name="query">The query without the <c>?</c>, or null.</param>
    /// <param name="headers">The request headers, in arrival order.</param>
    /// <param name="remoteEndPoint">The client's address and port.</param>
    public HttpRouteRequest(string method, string path, string? query, IReadOnlyList<KeyValuePair<string, string>> headers, IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        Method = method;
        Path = path;
        RawQuery = query;
        Headers = headers;
        RemoteEndPoint = remoteEndPoint;
    }

    /// <summary><c>GET</c> or <c>HEAD</c>.</summary>
    public string Method { get; }

    /// <summary>The path, as sent (not decoded), without the query.</summary>
    public string Path { get; }

    /// <summary>The query without the <c>?</c>, as sent, or null.</summary>
    public string? RawQuery { get; }

    /// <summary>The query's parameters, decoded (the last of a repeated name wins), as the server reads a client's details.</summary>
    public IReadOnlyDictionary<string, string> Query => field ??= string.IsNullOrEmpty(RawQuery)
        ? new Dictionary<string, string>(StringComparer.Ordinal).AsReadOnly()
        : QueryString.Parse(RawQuery).AsReadOnly();

    /// <summary>The request headers, in arrival order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The value of a header (the first, if repeated), compared without case; null when absent.</summary>
    public string? GetHeader(string name) => HeaderList.TryGet(Headers, name, out var value) ? value : null;
}

/// <summary>What a route answers: a status, a content type, a body and extra headers.</summary>
public sealed class HttpRouteResponse
{
    private static readonly string[] ReservedHeaders = ["Content-Length", "Content-Type", "Connection", "Transfer-Encoding", "Server", "Upgrade"];

    /// <summary>A response.</summary>
    /// <param name="statusCode">From 200 to 599 (a route cannot switch protocols or answer 1xx).</param>
    /// <param name="contentType">The body's media type, e.g. <c>text/html; charset=utf-8</c>.</param>
    /// <param name="body">The body, sent as it is with its <c>Content-Length</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The status is not from 200 to 599.</exception>
    /// <exception cref="ArgumentException">The content type is empty or holds a line break or a control character.</exception>
    public HttpRouteResponse(int statusCode, string contentType, ReadOnlyMemory<byte> body)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 200);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        StatusCode = statusCode;
        ContentType = HeaderValue(contentType, nameof(contentType));
        Body = body;
    }

    /// <summary>The status code.</summary>
    public int StatusCode { get; }

    /// <summary>The body's media type.</summary>
    public string ContentType { get; }

    /// <summary>The body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Extra headers (<c>Cache-Control</c>, <c>Location</c>...), in order; the server writes
    /// <c>Server</c>, <c>Content-Type</c>, <c>Content-Length</c> and <c>Connection</c> itself.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; private init; } = [];

    /// <summary>A UTF-8 text response.</summary>
    /// <param name="text">The body.</param>
    /// <param name="contentType">Its type; plain text by default (<c>text/html; charset=utf-8</c> for a page).</param>
    /// <param name="statusCode">The status; 200 by default.</param>
    public static HttpRouteResponse Text(string text, string contentType = "text/plain; charset=utf-8", int statusCode = 200)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(statusCode, contentType, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>A JSON response (UTF-8, <c>application/json</c>).</summary>
    /// <param name="json">The body.</param>
    /// <param name="statusCode">The status; 200 by default.</param>
    public static HttpRouteResponse Json(JsonNode json, int statusCode = 200)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new(statusCode, "application/json; charset=utf-8", Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    /// <summary>This response with one more header.</summary>
    /// <param name="name">An HTTP token, not one the server writes itself.</param>
    /// <param name="value">The value, without line breaks or control characters.</param>
    /// <exception cref="ArgumentException">The name is not a token or is one the server writes; the value holds a line break.</exception>
    public HttpRouteResponse WithHeader(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!OptionGuards.IsHttpToken(name) || ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{name}' is not a header a route may set.", nameof(name));
        }

        return new HttpRouteResponse(StatusCode, ContentType, Body) { Headers = [.. Headers, new(name, HeaderValue(value, nameof(value)))] };
    }

    private static string HeaderValue(string value, string parameter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, parameter);
        return value.Any(c => char.IsControl(c) && c != '\t') || value.Any(c => c > 0x7E)
            ? throw new ArgumentException("A header value holds visible ASCII only, without line breaks.", parameter)
            : value;
    }

    /// <summary>The response on the wire: the head, and the body unless <paramref name="includeBody"/> is false (HEAD).</summary>
    internal byte[] Encode(bool includeBody, bool close)
    {
        var head = new StringBuilder(128)
            .Append("HTTP/1.1 ").Append(StatusCode).Append(' ').Append(HttpResponses.ReasonPhrase(StatusCode)).Append("\r\n")
            .Append("Server: ").Append(ProtocolConstants.ServerHeaderValue).Append("\r\n")
            .Append("Content-Type: ").Append(ContentType).Append("\r\n")
            .Append("Content-Length: ").Append(Body.Length).Append("\r\n");
        foreach (var (name, value) in Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (close)
        {
            head.Append("Connection: close\r\n");
        }

        head.Append("\r\n");
        var headBytes = Encoding.ASCII.GetBytes(head.ToString());
        if (!includeBody)
        {
            return headBytes;
        }

        var response = new byte[headBytes.Length + Body.Length];
        headBytes.CopyTo(response, 0);
        Body.Span.CopyTo(response.AsSpan(headBytes.Length));
        return response;
    }
}
