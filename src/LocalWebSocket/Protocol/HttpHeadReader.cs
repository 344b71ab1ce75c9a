using System.Buffers;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Protocol;

/// <summary>Reads one HTTP head from a connection, bounded in size; the caller bounds it in time.</summary>
internal static class HttpHeadReader
{
    /// <summary>
    /// Reads up to and including the blank line that ends a head and parses it. Bytes that arrived after
    /// the head (a client may send frames right behind its upgrade request) are pushed back on the stream.
    /// </summary>
    /// <returns>The head, or <see langword="null"/> when the peer closed before sending any byte.</returns>
    /// <exception cref="HttpParseException">Malformed, truncated, or larger than <paramref name="maxHeadSize"/> (431).</exception>
    public static async ValueTask<HttpHead?> ReadAsync(
        ConnectionStream stream, bool isRequest, int maxHeadSize, int maxHeaderCount, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxHeadSize);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == maxHeadSize)
                {
                    throw new HttpParseException(431, "Request head too large.");
                }

                var read = await stream.ReadAsync(buffer.AsMemory(filled, maxHeadSize - filled), cancellationToken)
                    .ConfigureAwait(false);
                if (read == 0)
                {
                    return filled == 0 ? null : throw new HttpParseException(400, "Connection closed in the middle of a head.");
                }

                var searchFrom = Math.Max(0, filled - 3);
                var checkFrom = filled;
                filled += read;
                var end = buffer.AsSpan(searchFrom, filled - searchFrom).IndexOf("\r\n\r\n"u8);
                var headLength = end < 0 ? filled : searchFrom + end + 4;

                // Only the head's own bytes: what follows it (a body, frames) may hold any bytes.
                RejectBareLineFeeds(buffer.AsSpan(0, headLength), checkFrom);
                if (end < 0)
                {
                    continue;
                }

                var head = buffer.AsSpan(0, headLength);
                var parsed = isRequest
                    ? HttpHead.ParseRequest(head, maxHeaderCount)
                    : HttpHead.ParseResponse(head, maxHeaderCount);
                stream.PushBack(buffer.AsSpan(headLength, filled - headLength));
                return parsed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Refuses a line feed without its carriage return as soon as it arrives: waiting for a CRLF CRLF that a
    /// LF-only client never sends would turn a 400 into a time-out.
    /// </summary>
    private static void RejectBareLineFeeds(ReadOnlySpan<byte> data, int from)
    {
        var index = from;
        while (true)
        {
            var next = data[index..].IndexOf((byte)'\n');
            if (next < 0)
            {
                return;
            }

            index += next;
            if (index == 0 || data[index - 1] != (byte)'\r')
            {
                throw new HttpParseException(400, "Lines must end with CRLF.");
            }

            index++;
        }
    }
}
