using LocalWebSocket.AspNetCore;
using LocalWebSocket.Protocol;
using LocalWebSocket.Server;
using Microsoft.AspNetCore.Http;
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
    /// <paramref name="detailsPattern"/> (<c>/</c>, where scanners look), with <c>Server: local-websocket/1.0.0</c>.
    /// </summary>
    /// <param name="endpoints">The app's routes.</param>
    /// <param name="pattern">The WebSocket route.</param>
    /// <param name="detailsPattern">The details document's route (GET and HEAD).</param>
    /// <returns>A builder for both endpoints, to add conventions (authorization, CORS, host filters) to them.</returns>
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
        return new BothEndpoints(webSocket, details);
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
