using System.Net.WebSockets;

namespace LocalWebSocket.Protocol;

/// <summary>The close codes and reasons an endpoint may send (RFC 6455 sections 5.5.1 and 7.4).</summary>
internal static class CloseCodes
{
    /// <summary>The most UTF-8 bytes of a close reason: a control frame's 125 bytes less the code's two.</summary>
    public const int MaxReasonBytes = 123;

    /// <summary>
    /// Whether a close frame may carry <paramref name="status"/>: 1000 to 1003 and 1007 to 1014 (those RFC 6455
    /// and the IANA registry define), and 3000 to 4999 (libraries and applications). 1004, 1005, 1006 and 1015
    /// are never sent; the rest of 1000 to 2999 is reserved for future protocol use.
    /// </summary>
    public static bool IsSendable(WebSocketCloseStatus status) =>
        (int)status is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    /// <summary>Throws <see cref="ArgumentException"/> for a code or reason that cannot be sent.</summary>
    public static void EnsureSendable(WebSocketCloseStatus status, string? reason, string statusName, string reasonName)
    {
        if (!IsSendable(status))
        {
            throw new ArgumentOutOfRangeException(statusName, (int)status,
                "A close code sent is 1000-1003, 1007-1014 or 3000-4999 (1004-1006 and 1015 are never sent, the rest is reserved).");
        }

        if (reason is not null && System.Text.Encoding.UTF8.GetByteCount(reason) > MaxReasonBytes)
        {
            throw new ArgumentException($"A close reason is at most {MaxReasonBytes} UTF-8 bytes.", reasonName);
        }
    }
}
