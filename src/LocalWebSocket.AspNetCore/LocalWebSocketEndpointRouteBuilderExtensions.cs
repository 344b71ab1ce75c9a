using LocalWebSocket.AspNetCore;
using LocalWebSocket.Protocol;
using LocalWebSocket.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the LocalWebSocket hub's endpoints in an ASP.NET Core app.</summary>
public static class LocalWebSocketEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the hub registered by <c>AddLocalWebSocket</c>: WebSocket upgrades at <paramref name="pattern"/>
    /// (<c>/ws</c>, where Dart <c>local_websocket</c> clients connect) and the details document at
    /// <paramref name="detailsPattern"/> (<c>/</c>, where scanners look), with <c>Server: local-websocket/1.0.0</c>;
    /// and the routes of the hub's options (<see cref="LocalWebSocketServerOptions.Routes"/>), answered as its own
    /// listener answers them.
    /// </summary>
    /// <param name="endpoints">The app's routes.</param>
    /// <param name="pattern">The WebSocket route.</param>
    /// <param name="detailsPattern">The details document's route (GET and HEAD).</param>
    /// <returns>A builder for all these endpoints, to add conventions (authorization, CORS, host filters) to them.</returns>
    public static IEndpointConventionBuilder MapLocalWebSocket(
        this IEndpointRouteBuilder endpoints, string pattern = ProtocolConstants.WebSocketPath, string detailsPattern = ProtocolConstants.DetailsPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        ArgumentException.ThrowIfNullOrEmpty(detailsPattern);
        var server = endpoints.ServiceProvider.GetService<LocalWebSocketServer>()
            ?? throw new InvalidOperationException("MapLocalWebSocket needs the hub: call builder.Services.AddLocalWebSocket() first.");

        // Every method reaches the WebSocket endpoint, so that the hub answers a POST with its own 405.
        var webSocket = endpoints.Map(pattern, context => server.AcceptUpgradeAsync(HttpContextUpgradeRequest.From(context), context.RequestAborted));
        var details = endpoints.MapMethods(detailsPattern, [HttpMethods.Get, HttpMethods.Head], context => WriteDetailsAsync(server, context));
        IEndpointConventionBuilder mapped = new BothEndpoints(webSocket, details);
        foreach (var path in server.RoutePaths)
        {
            // A prefix route (/files/*) is a catch-all under its folder; every method reaches it, for the hub's 405.
            var routePattern = path.EndsWith('*') ? path[..^1] + "{**rest}" : path;
            mapped = new BothEndpoints(mapped, endpoints.Map(routePattern, context => WriteRouteAsync(server, context)));
        }

        return mapped;
    }

    /// <summary>One of the application's routes, answered by the hub as its own listener answers it.</summary>
    private static async Task WriteRouteAsync(LocalWebSocketServer server, HttpContext context)
    {
        var response = context.Response;
        response.Headers.Server = ProtocolConstants.ServerHeaderValue;
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        // The path as sent, not decoded, as our own listener gives it to routes.
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (request.PathBase + request.Path).Value ?? "/";
        var question = target.IndexOf('?', StringComparison.Ordinal);
        var routeRequest = new HttpRouteRequest(
            request.Method,
            question < 0 ? target : target[..question],
            question < 0 ? null : target[(question + 1)..],
            HttpContextUpgradeRequest.HeadersOf(context),
            HttpContextUpgradeRequest.RemoteEndPointOf(context));
        if (await server.AnswerRouteAsync(routeRequest, context.RequestAborted) is not { } answer)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        response.StatusCode = answer.StatusCode;
        response.ContentType = answer.ContentType;
        response.ContentLength = answer.Body.Length;
        foreach (var (name, value) in answer.Headers)
        {
            response.Headers.Append(name, value);
        }

        if (!HttpMethods.IsHead(request.Method))
        {
            await response.Body.WriteAsync(answer.Body, context.RequestAborted);
        }
    }

    private static Task WriteDetailsAsync(LocalWebSocketServer server, HttpContext context)
    {
        var document = server.ServeDetailsDocument();
        var response = context.Response;
        // Set here, Kestrel adds no Server header of its own: scanners fail on two.
        response.Headers.Server = ProtocolConstants.ServerHeaderValue;
        response.Headers.CacheControl = "no-store";
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = document.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(document, context.RequestAborted).AsTask();
    }

    private sealed class BothEndpoints(IEndpointConventionBuilder first, IEndpointConventionBuilder second) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            first.Add(convention);
            second.Add(convention);
        }

        public void Finally(Action<EndpointBuilder> finallyConvention)
        {
            first.Finally(finallyConvention);
            second.Finally(finallyConvention);
        }
    }
}
