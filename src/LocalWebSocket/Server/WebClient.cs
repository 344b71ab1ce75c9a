using System.Text.Json.Nodes;

namespace LocalWebSocket.Server;

/// <summary>
/// The web client (<see cref="LocalWebSocketServerOptions.WebClientPath"/>): a page embedded in this assembly and a
/// list of the connected clients, served as two routes of the server's own table.
/// </summary>
internal static class WebClient
{
    private static readonly Lazy<byte[]> Page = new(static () =>
    {
        using var resource = typeof(WebClient).Assembly.GetManifestResourceStream("LocalWebSocket.WebClient.app.html")
            ?? throw new InvalidOperationException("The web client page is missing from the assembly.");
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>Maps the page at <paramref name="path"/> and the client list at <c>{path}/clients</c>.</summary>
    public static void Map(HttpRouteTable routes, string path, LocalWebSocketServer server, Security.IRequestAuthenticator? authenticator)
    {
        var page = new HttpRouteResponse(200, "text/html; charset=utf-8", Page.Value)
            .WithHeader("Cache-Control", "no-cache")
            .WithHeader("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self' ws: wss:")
            .WithHeader("X-Content-Type-Options", "nosniff");
        routes.MapGet(path, (_, _) => ValueTask.FromResult(page));
        routes.MapGet(path + "/clients", (request, cancellationToken) => ClientListAsync(server, authenticator, request, cancellationToken));
    }

    /// <summary>
    /// Who is connected, with their details: only for a request the server's authenticator would let connect
    /// (the page sends the same credentials as its WebSocket), so a token keeps the list private too.
    /// </summary>
    private static async ValueTask<HttpRouteResponse> ClientListAsync(
        LocalWebSocketServer server, Security.IRequestAuthenticator? authenticator, HttpRouteRequest request, CancellationToken cancellationToken)
    {
        if (authenticator is not null)
        {
            var (refusal, _) = await server.AuthenticateAsync(
                authenticator, request.Path, request.Query, request.Headers, request.RemoteEndPoint, cancellationToken).ConfigureAwait(false);
            if (refusal is not null)
            {
                return new HttpRouteResponse(refusal.StatusCode, refusal.ContentType, System.Text.Encoding.UTF8.GetBytes(refusal.Body))
                    .WithHeader("Cache-Control", "no-store");
            }
        }

        return ClientList(server);
    }

    private static HttpRouteResponse ClientList(LocalWebSocketServer server)
    {
        var list = new JsonArray();
        foreach (var client in server.Clients)
        {
            var details = new JsonObject();
            foreach (var (key, value) in client.Details)
            {
                details[key] = value;
            }

            list.Add((JsonNode)new JsonObject { ["id"] = client.Id, ["details"] = details });
        }

        return HttpRouteResponse.Json(list).WithHeader("Cache-Control", "no-store");
    }
}
