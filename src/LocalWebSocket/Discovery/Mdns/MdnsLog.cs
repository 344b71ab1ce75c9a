using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Discovery.Mdns;

/// <summary>What mDNS advertising logs, source-generated: name changes are Information, lost sockets Debug.</summary>
internal static partial class MdnsLog
{
    [LoggerMessage(100, LogLevel.Warning, "mDNS has no interface to advertise on yet (up, multicast, with an address the server listens on); it will when one comes up.")]
    public static partial void NoInterfaceYet(this ILogger logger);

    [LoggerMessage(101, LogLevel.Debug, "No network change notices here; mDNS keeps the interfaces it started on.")]
    public static partial void NoChangeNotices(this ILogger logger, Exception exception);

    [LoggerMessage(102, LogLevel.Debug, "mDNS over {Family} is not available on {Link}.")]
    public static partial void FamilyUnavailable(this ILogger logger, Exception exception, System.Net.Sockets.AddressFamily family, string link);

    [LoggerMessage(103, LogLevel.Information, "mDNS: {Link} changed; saying goodbye for {Count} records.")]
    public static partial void LinkChanged(this ILogger logger, string link, int count);

    [LoggerMessage(104, LogLevel.Information, "Another host on the link claims {Name}; probing for it again.")]
    public static partial void NameContested(this ILogger logger, string name);

    [LoggerMessage(105, LogLevel.Warning, "mDNS advertising stopped.")]
    public static partial void AdvertisingStopped(this ILogger logger, Exception exception);

    [LoggerMessage(106, LogLevel.Information, "mDNS name {Old} is taken on the link; trying {New}.")]
    public static partial void NameTaken(this ILogger logger, string old, string @new);

    [LoggerMessage(107, LogLevel.Debug, "mDNS receive on {Interface} failed.")]
    public static partial void ReceiveFailed(this ILogger logger, Exception exception, MdnsTransport @interface);

    [LoggerMessage(108, LogLevel.Debug, "mDNS send on {Interface} failed.")]
    public static partial void SendFailed(this ILogger logger, Exception exception, MdnsTransport @interface);

    [LoggerMessage(109, LogLevel.Debug, "mDNS response on {Interface} not sent.")]
    public static partial void ResponseNotSent(this ILogger logger, Exception exception, MdnsTransport @interface);
}
