namespace LocalWebSocket.Client;

/// <summary>
/// What the next connection attempt will request. <see cref="LocalWebSocketClientOptions.PrepareConnection"/>
/// receives a fresh one before every attempt and may change it, e.g. to put a refreshed token in
/// <see cref="Details"/> or <see cref="Headers"/>.
/// </summary>
public sealed class ConnectionRequest
{
    internal ConnectionRequest(Uri url, IDictionary<string, string> details, IDictionary<string, string> headers, int attempt, bool isReconnect)
    {
        Url = url;
        Details = details;
        Headers = headers;
        Attempt = attempt;
        IsReconnect = isReconnect;
    }

    /// <summary>The WebSocket URL to connect to (details are merged into its query).</summary>
    public Uri Url { get; set; }

    /// <summary>The details to send as query parameters; a copy of the options' details.</summary>
    public IDictionary<string, string> Details { get; }

    /// <summary>The extra request headers; a copy of the options' headers.</summary>
    public IDictionary<string, string> Headers { get; }

    /// <summary>0 for the first attempt, then the number of the retry by the reconnect policy.</summary>
    public int Attempt { get; }

    /// <summary>Whether a connection was lost and this attempt replaces it.</summary>
    public bool IsReconnect { get; }
}
