using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Client;

/// <summary>The client side of the opening handshake, over our own socket so that refusals can be read whole.</summary>
internal static class ClientHandshake
{
    private const int MaxResponseHeadSize = 16 * 1024;
    private const int MaxResponseHeaders = 100;
    private const int MaxErrorBodySize = 64 * 1024;

    /// <summary>
    /// The URL actually requested: the given one with <paramref name="details"/> merged over its own query
    /// parameters (details win), form-encoded as Dart does.
    /// </summary>
    /// <exception cref="ArgumentException">Not an absolute <c>ws://</c> URL.</exception>
    public static Uri BuildRequestUri(Uri url, IReadOnlyDictionary<string, string> details)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || url.Scheme is not ("ws" or "wss"))
        {
            throw new ArgumentException(
                $"'{url}' is not a ws:// or wss:// URL. Servers are at ws://host:port/ws.", nameof(url));
        }

        var merged = QueryString.Parse(url.Query.TrimStart('?'));
        foreach (var (key, value) in details)
        {
            merged[key] = value;
        }

        return Internal.ZonedUri.With(url, query: QueryString.Build(merged));
    }

    public static async Task<(WebSocket WebSocket, string? SubProtocol, DeflateAgreement? Deflate)> ConnectAsync(
        Uri uri, IDictionary<string, string> headers, LocalWebSocketClientOptions options, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        ClientConnectionStream? stream = null;
        try
        {
            try
            {
                await socket.ConnectAsync(uri.IdnHost, uri.Port, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException exception)
            {
                throw new LocalWebSocketException(
                    LocalWebSocketErrorCode.ConnectionFailed, $"Could not connect to {uri.Host}:{uri.Port}: {exception.Message}", null, exception);
            }

            stream = uri.Scheme == "wss"
                ? await AuthenticateTlsAsync(socket, uri, options, cancellationToken).ConfigureAwait(false)
                : ConnectionStream.ForClient(new NetworkStream(socket, ownsSocket: true), socket);
            var key = WebSocketHandshake.CreateKey();
            await stream.WriteAsync(BuildRequest(uri, key, headers, options), cancellationToken).ConfigureAwait(false);

            HttpHead? head;
            try
            {
                head = await HttpHeadReader.ReadAsync(stream, isRequest: false, MaxResponseHeadSize, MaxResponseHeaders, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (HttpParseException exception)
            {
                throw new LocalWebSocketException(
                    LocalWebSocketErrorCode.HandshakeFailed, $"The server's answer is not valid HTTP: {exception.Message}", null, exception);
            }

            if (head is null)
            {
                throw new LocalWebSocketException(
                    LocalWebSocketErrorCode.ConnectionFailed, "The server closed the connection without answering the upgrade request.");
            }

            if (head.StatusCode != 101)
            {
                var body = await ReadBodyAsync(stream, head, cancellationToken).ConfigureAwait(false);
                throw Refusal(head, body);
            }

            var subProtocol = CheckUpgrade(head, key, options);
            var deflate = NegotiateExtensions(head, options);
            var keepAlive = options.KeepAliveInterval > TimeSpan.Zero;
            stream.EnableWriteBehind();
            var webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = false,
                SubProtocol = subProtocol,
                KeepAliveInterval = keepAlive ? options.KeepAliveInterval : TimeSpan.Zero,
                KeepAliveTimeout = keepAlive ? options.KeepAliveTimeout : Timeout.InfiniteTimeSpan,
                DangerousDeflateOptions = deflate?.Options,
            });
            stream = null;
            return (webSocket, subProtocol, deflate);
        }
        catch (IOException exception)
        {
            throw new LocalWebSocketException(
                LocalWebSocketErrorCode.ConnectionFailed, $"The connection to {uri.Host}:{uri.Port} broke during the handshake.", null, exception);
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else if (!socket.Connected)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// The TLS handshake. With a pinned fingerprint, the server's certificate is accepted when its SHA-256
    /// matches (self-signed, any name), and only then; without one, the platform's usual validation applies.
    /// Validation is decided per connection, never turned off for the process.
    /// </summary>
    private static async Task<ClientConnectionStream> AuthenticateTlsAsync(Socket socket, Uri uri, LocalWebSocketClientOptions options, CancellationToken cancellationToken)
    {
        var pin = options.PinnedCertificateFingerprint;
        string? seen = null;
        var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(
                new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = uri.IdnHost,
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        if (certificate is null)
                        {
                            return false;
                        }

                        seen = Security.TlsCertificates.Fingerprint(certificate);
                        return pin is null ? errors == System.Net.Security.SslPolicyErrors.None : seen == pin;
                    },
                },
                cancellationToken).ConfigureAwait(false);
            return ConnectionStream.ForClient(tls, socket: null);
        }
        catch (System.Security.Authentication.AuthenticationException exception)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            var message = pin is null
                ? $"The server's certificate is not trusted ({exception.Message}). For a self-signed server, pin its fingerprint{(seen is null ? "" : $" ({seen})")}."
                : $"The server's certificate fingerprint {seen ?? "(none)"} does not match the pinned {pin}.";
            throw new LocalWebSocketException(LocalWebSocketErrorCode.CertificateRejected, message, null, exception);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static DeflateAgreement? NegotiateExtensions(HttpHead head, LocalWebSocketClientOptions options)
    {
        if (!head.TryGetHeader("Sec-WebSocket-Extensions", out var answer) || string.IsNullOrWhiteSpace(answer))
        {
            return null;
        }

        if (options.DangerousDeflateOptions is not { } offered)
        {
            throw new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, $"The server enabled extensions that were not offered: {answer}.", 101);
        }

        try
        {
            return DeflateNegotiation.Accept(answer, offered);
        }
        catch (FormatException exception)
        {
            throw new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, exception.Message, 101, exception);
        }
    }

    private static byte[] BuildRequest(Uri uri, string key, IDictionary<string, string> headers, LocalWebSocketClientOptions options)
    {
        var request = new StringBuilder(256);
        var target = string.IsNullOrEmpty(uri.Query) || uri.Query == "?" ? uri.AbsolutePath : uri.AbsolutePath + uri.Query;
        request.Append("GET ").Append(target).Append(" HTTP/1.1\r\n");
        request.Append("Host: ").Append(uri.IsDefaultPort ? uri.Host : uri.Authority).Append("\r\n");
        request.Append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        request.Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n");
        request.Append("Sec-WebSocket-Version: 13\r\n");
        if (options.SubProtocols.Count > 0)
        {
            request.Append("Sec-WebSocket-Protocol: ").AppendJoin(", ", options.SubProtocols).Append("\r\n");
        }

        if (options.DangerousDeflateOptions is { } deflate)
        {
            request.Append("Sec-WebSocket-Extensions: ").Append(DeflateNegotiation.Offer(deflate)).Append("\r\n");
        }

        foreach (var (name, value) in headers)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        request.Append("\r\n");
        return Encoding.UTF8.GetBytes(request.ToString());
    }

    private static string? CheckUpgrade(HttpHead head, string key, LocalWebSocketClientOptions options)
    {
        if (!head.HeaderContainsToken("Upgrade", "websocket") || !head.HeaderContainsToken("Connection", "Upgrade"))
        {
            throw new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, "The 101 response lacks Upgrade: websocket or Connection: Upgrade.", 101);
        }

        if (!head.TryGetHeader("Sec-WebSocket-Accept", out var accept) || accept != WebSocketHandshake.ComputeAccept(key))
        {
            throw new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, "The 101 response has a wrong Sec-WebSocket-Accept.", 101);
        }

        if (!head.TryGetHeader("Sec-WebSocket-Protocol", out var chosen))
        {
            return null;
        }

        return options.SubProtocols.Contains(chosen)
            ? chosen
            : throw new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, $"The server chose subprotocol '{chosen}', which was not offered.", 101);
    }

    /// <summary>Reads a refusal's body, bounded in size (and in time by the caller's token).</summary>
    private static async Task<string> ReadBodyAsync(ConnectionStream stream, HttpHead head, CancellationToken cancellationToken)
    {
        if (head.HeaderContainsToken("Transfer-Encoding", "chunked"))
        {
            // Refusals are small; a chunked one is read raw and its chunk framing stripped loosely.
            var raw = await ReadUpToAsync(stream, MaxErrorBodySize, cancellationToken).ConfigureAwait(false);
            return StripChunking(raw);
        }

        var limit = MaxErrorBodySize;
        if (head.TryGetHeader("Content-Length", out var lengthText) && int.TryParse(lengthText, out var length) && length >= 0)
        {
            limit = Math.Min(length, MaxErrorBodySize);
        }

        return await ReadUpToAsync(stream, limit, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> ReadUpToAsync(ConnectionStream stream, int limit, CancellationToken cancellationToken)
    {
        var buffer = new byte[limit];
        var filled = 0;
        try
        {
            while (filled < limit)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                filled += read;
            }
        }
        catch (IOException)
        {
            // The server may reset the connection after its refusal; what arrived is enough.
        }

        return Encoding.UTF8.GetString(buffer, 0, filled);
    }

    private static string StripChunking(string raw)
    {
        var body = new StringBuilder();
        var rest = raw.AsSpan();
        while (true)
        {
            var lineEnd = rest.IndexOf("\r\n", StringComparison.Ordinal);
            if (lineEnd < 0 || !int.TryParse(rest[..lineEnd].ToString().Split(';')[0], System.Globalization.NumberStyles.HexNumber, null, out var size) || size <= 0)
            {
                return body.ToString();
            }

            rest = rest[(lineEnd + 2)..];
            var take = Math.Min(size, rest.Length);
            body.Append(rest[..take]);
            rest = rest[take..];
            if (rest.StartsWith("\r\n", StringComparison.Ordinal))
            {
                rest = rest[2..];
            }
        }
    }

    private static LocalWebSocketException Refusal(HttpHead head, string body)
    {
        var status = head.StatusCode;
        var message = ErrorMessageFromBody(body) ?? (string.IsNullOrWhiteSpace(body) ? head.ReasonPhrase : body.Trim());
        if (message.Length > 500)
        {
            message = message[..500];
        }

        return status switch
        {
            401 or 403 => new LocalWebSocketException(LocalWebSocketErrorCode.AuthenticationFailed, message, status),
            429 or 503 => new LocalWebSocketException(LocalWebSocketErrorCode.ServerBusy, $"The server is busy: {message}", status)
            {
                RetryAfter = RetryAfter(head),
            },
            _ => new LocalWebSocketException(LocalWebSocketErrorCode.HandshakeFailed, $"The server refused the upgrade: {message}", status),
        };
    }

    /// <summary>Longest wait a server's <c>Retry-After</c> can impose: a typo or a hostile server must not park a client for days.</summary>
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(10);

    /// <summary>A <c>Retry-After</c> as delay-seconds or an HTTP date (RFC 9110 section 10.2.3), capped; null when absent or unreadable.</summary>
    internal static TimeSpan? RetryAfter(HttpHead head)
    {
        if (!head.TryGetHeader("Retry-After", out var value))
        {
            return null;
        }

        TimeSpan wait;
        if (long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            wait = TimeSpan.FromSeconds(Math.Min(seconds, MaxRetryAfter.TotalSeconds));
        }
        else if (DateTimeOffset.TryParseExact(value, "r", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var date))
        {
            wait = date - DateTimeOffset.UtcNow;
        }
        else
        {
            return null;
        }

        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxRetryAfter ? MaxRetryAfter : wait;
    }

    /// <summary>The <c>error.message</c> of a <c>{"error":{...}}</c> body, as local_websocket servers send.</summary>
    private static string? ErrorMessageFromBody(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("message", out var message)
                && message.ValueKind == JsonValueKind.String
                ? message.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
