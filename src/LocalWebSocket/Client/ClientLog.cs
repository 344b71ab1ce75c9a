using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Client;

/// <summary>
/// Everything a client logs, source-generated. Quiet by default (no logger factory: nothing; with one, the
/// connection's life is Debug), and an app's handler or interceptor that threw is Error.
/// </summary>
internal static partial class ClientLog
{
    [LoggerMessage(200, LogLevel.Debug, "Connecting to {Url} (attempt {Attempt}).")]
    public static partial void Connecting(this ILogger logger, Uri url, int attempt);

    [LoggerMessage(201, LogLevel.Debug, "Connected to {Url}.")]
    public static partial void Connected(this ILogger logger, Uri? url);

    [LoggerMessage(202, LogLevel.Debug, "Connecting to {Url} failed: {Error}")]
    public static partial void ConnectFailed(this ILogger logger, Uri url, string error);

    [LoggerMessage(203, LogLevel.Debug, "The connection ended ({CloseStatus} {CloseDescription}).")]
    public static partial void ConnectionEnded(this ILogger logger, System.Net.WebSockets.WebSocketCloseStatus? closeStatus, string? closeDescription);

    [LoggerMessage(204, LogLevel.Debug, "Reconnecting in {Delay} (attempt {Attempt}).")]
    public static partial void ReconnectScheduled(this ILogger logger, TimeSpan delay, int attempt);

    [LoggerMessage(210, LogLevel.Error, "A receive interceptor threw; the message is dropped.")]
    public static partial void InterceptorThrew(this ILogger logger, Exception exception);

    [LoggerMessage(211, LogLevel.Error, "A MessageReceived handler threw; the client goes on.")]
    public static partial void MessageHandlerThrew(this ILogger logger, Exception exception);

    [LoggerMessage(212, LogLevel.Error, "A StateChanged handler threw; the client goes on.")]
    public static partial void StateHandlerThrew(this ILogger logger, Exception exception);
}
