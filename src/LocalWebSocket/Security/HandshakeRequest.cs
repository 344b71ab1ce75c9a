using System.Net;

namespace LocalWebSocket.Security;

/// <summary>
/// The HTTP request of a WebSocket upgrade, as request authenticators see it (before the upgrade); also the web
/// client's request for its list of clients.
/// </summary>
public sealed class HandshakeRequest
{
    private readonly IReadOnlyList<KeyValuePair<string, string>> _headers;

    internal HandshakeRequest(
        string path, IReadOnlyDictionary<string, string> query, IReadOnlyList<KeyValuePair<string, string>> headers, IPEndPoint remoteEndPoint)
    {
        Path = path;
        Query = query;
        _headers = headers;
        RemoteEndPoint = remoteEndPoint;
    }

    /// <summary>
    /// The request path: <c>/ws</c>, or the web client's list of clients (<c>{WebClientPath}/clients</c>), which
    /// answers only those the authenticator would let connect.
    /// </summary>
    public string Path { get; }

    /// <summary>The decoded query parameters: the client's details, credentials included.</summary>
    public IReadOnlyDictionary<string, string> Query { get; }

    /// <summary>The request headers, in arrival order, with the case they arrived in.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The first header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetHeader(string name)
    {
        foreach (var header in _headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }

        return null;
    }
}
