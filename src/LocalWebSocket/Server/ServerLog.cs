using System.Net;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

/// <summary>
/// Everything the server logs, source-generated (no boxing, no formatting unless the level is on). Quiet by
/// default: what happens to one connection is Debug (a hub has thousands), the server's own life is
/// Information, what an operator should fix is Warning, and a hook of the app that threw is Error.
/// </summary>
internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "Listening on {EndPoint}.")]
    public static partial void Listening(this ILogger logger, IPEndPoint? endPoint);

    [LoggerMessage(2, LogLevel.Information, "Started without a listener of its own (hosted), at {EndPoint}.")]
    public static partial void StartedHosted(this ILogger logger, IPEndPoint? endPoint);

    [LoggerMessage(3, LogLevel.Information, "Stopped.")]
    public static partial void Stopped(this ILogger logger);

    [LoggerMessage(4, LogLevel.Warning, "Accepting a connection failed.")]
    public static partial void AcceptFailed(this ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Debug, "The accept loop ended with an error.")]
    public static partial void AcceptLoopFailed(this ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Debug, "A connection ended with an error.")]
    public static partial void ConnectionFailed(this ILogger logger, Exception exception);

    [LoggerMessage(11, LogLevel.Debug, "A TLS handshake failed.")]
    public static partial void TlsFailed(this ILogger logger, Exception exception);

    [LoggerMessage(12, LogLevel.Debug, "The 101 response to {RemoteEndPoint} failed.")]
    public static partial void SwitchingProtocolsFailed(this ILogger logger, Exception exception, IPEndPoint remoteEndPoint);

    [LoggerMessage(13, LogLevel.Debug, "The upgrade of {RemoteEndPoint} timed out.")]
    public static partial void UpgradeTimedOut(this ILogger logger, IPEndPoint remoteEndPoint);

    [LoggerMessage(14, LogLevel.Debug, "Client from {RemoteEndPoint} refused: {Reason}.")]
    public static partial void ClientRefused(this ILogger logger, IPEndPoint remoteEndPoint, string? reason);

    [LoggerMessage(15, LogLevel.Debug, "Request from {RemoteEndPoint} denied: {Status} {Reason}.")]
    public static partial void RequestDenied(this ILogger logger, IPEndPoint remoteEndPoint, int status, string? reason);

    [LoggerMessage(20, LogLevel.Debug, "Client {ClientId} joined from {RemoteEndPoint}.")]
    public static partial void ClientJoined(this ILogger logger, string clientId, IPEndPoint remoteEndPoint);

    [LoggerMessage(21, LogLevel.Debug, "Client {ClientId} left ({CloseStatus}).")]
    public static partial void ClientLeft(this ILogger logger, string clientId, string closeStatus);

    [LoggerMessage(22, LogLevel.Debug, "Connection of client {ClientId} broke.")]
    public static partial void ConnectionBroke(this ILogger logger, Exception exception, string clientId);

    [LoggerMessage(23, LogLevel.Debug, "The close frame for client {ClientId} could not be written.")]
    public static partial void CloseNotWritten(this ILogger logger, Exception exception, string clientId);

    [LoggerMessage(24, LogLevel.Debug, "Client {ClientId} sent a message over {MaxMessageSize} bytes; closing with 1009.")]
    public static partial void MessageTooBig(this ILogger logger, string clientId, int maxMessageSize);

    [LoggerMessage(25, LogLevel.Debug, "Sending to client {ClientId} failed.")]
    public static partial void SendFailed(this ILogger logger, Exception exception, string clientId);

    [LoggerMessage(26, LogLevel.Information, "Client {ClientId} did not keep up; its send queue is full and it is disconnected.")]
    public static partial void SlowClient(this ILogger logger, string clientId);

    [LoggerMessage(27, LogLevel.Error, "Connection of client {ClientId} failed.")]
    public static partial void ConnectionError(this ILogger logger, Exception exception, string clientId);

    [LoggerMessage(30, LogLevel.Error, "The client validator threw; the client is refused.")]
    public static partial void ValidatorThrew(this ILogger logger, Exception exception);

    [LoggerMessage(31, LogLevel.Error, "The request authenticator threw; the request is denied.")]
    public static partial void AuthenticatorThrew(this ILogger logger, Exception exception);

    [LoggerMessage(32, LogLevel.Error, "The message validator threw; the message is dropped.")]
    public static partial void MessageValidatorThrew(this ILogger logger, Exception exception);

    [LoggerMessage(33, LogLevel.Error, "The {Hook} hook failed for client {ClientId}; the server goes on.")]
    public static partial void HookFailed(this ILogger logger, Exception exception, string hook, string clientId);

    [LoggerMessage(34, LogLevel.Error, "An event handler threw; the server goes on.")]
    public static partial void HandlerThrew(this ILogger logger, Exception exception);

    [LoggerMessage(40, LogLevel.Information, "Advertising {Service} over mDNS on {Interfaces}.")]
    public static partial void Advertising(this ILogger logger, string service, string interfaces);

    [LoggerMessage(41, LogLevel.Warning, "{Problem}")]
    public static partial void AdvertisingProblem(this ILogger logger, string problem);

    [LoggerMessage(42, LogLevel.Warning, "mDNS advertising is not available; clients can still find this server by scanning.")]
    public static partial void AdvertisingUnavailable(this ILogger logger, Exception exception);

    [LoggerMessage(43, LogLevel.Debug, "Announcing new details over mDNS failed.")]
    public static partial void AnnouncingFailed(this ILogger logger, Exception exception);

    [LoggerMessage(50, LogLevel.Error, "The route {Path} threw; the request got 500.")]
    public static partial void RouteFailed(this ILogger logger, Exception exception, string path);
}
