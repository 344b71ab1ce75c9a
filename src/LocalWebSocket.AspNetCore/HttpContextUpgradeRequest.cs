using System.Net;
using LocalWebSocket.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;

namespace LocalWebSocket.AspNetCore;

/// <summary>
/// A request Kestrel routed to the WebSocket endpoint, as the hub sees it. The 101 goes out through
/// <see cref="IHttpUpgradeFeature"/>, which hands over the connection's stream, so the hub runs its own
/// WebSocket on it exactly as on its own listener (the same framing options, batching and limits).
/// </summary>
internal sealed class HttpContextUpgradeRequest : WebSocketUpgradeRequest
{
    private readonly HttpContext _context;

    private HttpContextUpgradeRequest(HttpContext context, IReadOnlyList<KeyValuePair<string, string>> headers)
        : base(
            context.Request.Method,
            HttpProtocol.IsHttp11(context.Request.Protocol),
            context.Request.QueryString.HasValue ? context.Request.QueryString.Value![1..] : null,
            headers,
            RemoteEndPointOf(context))
    {
        _context = context;
    }

    public static HttpContextUpgradeRequest From(HttpContext context) => new(context, HeadersOf(context));

    /// <summary>The peer, as the hub's per-IP limits and clients see it.</summary>
    internal static IPEndPoint RemoteEndPointOf(HttpContext context) =>
        new(context.Connection.RemoteIpAddress ?? IPAddress.None, context.Connection.RemotePort);

    /// <summary>The request's headers as the hub reads them, in order.</summary>
    internal static List<KeyValuePair<string, string>> HeadersOf(HttpContext context)
    {
        var headers = new List<KeyValuePair<string, string>>(context.Request.Headers.Count + 2);
        foreach (var (name, values) in context.Request.Headers)
        {
            // One entry per value, as they came: "two Sec-WebSocket-Key headers" must stay two.
            foreach (var value in values)
            {
                headers.Add(new(name, value ?? ""));
            }
        }

        return headers;
    }

    protected override async ValueTask<Stream> AcceptAsync(string? subProtocol, string? extensions, CancellationToken cancellationToken)
    {
        var upgrade = _context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true })
        {
            throw new InvalidOperationException("The host cannot upgrade this request.");
        }

        // A WebSocket lives as long as it is used: neither a request timeout nor a body size limit applies to it.
        _context.Features.Get<IHttpRequestTimeoutFeature>()?.DisableTimeout();
        if (_context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        var headers = _context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = AcceptValue;
        if (subProtocol is not null)
        {
            headers.SecWebSocketProtocol = subProtocol;
        }

        if (extensions is not null)
        {
            headers.SecWebSocketExtensions = extensions;
        }

        return await upgrade.UpgradeAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask RejectAsync(
        int statusCode, string contentType, string body, KeyValuePair<string, string>? header, CancellationToken cancellationToken)
    {
        var response = _context.Response;
        if (response.HasStarted)
        {
            _context.Abort();
            return;
        }

        response.StatusCode = statusCode;
        response.ContentType = contentType;
        if (header is { } extra)
        {
            response.Headers[extra.Key] = extra.Value;
        }

        // As our own listener does: a length-delimited body, and the connection ends with the refusal.
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        response.ContentLength = bytes.Length;
        response.Headers.Connection = "close";
        await response.Body.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }
}
