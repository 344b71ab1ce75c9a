using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>RFC 6455 section 4 key and accept values.</summary>
internal static class WebSocketHandshake
{
    /// <summary>The length of a <c>Sec-WebSocket-Accept</c> value: base64 of a 20-byte SHA-1 hash.</summary>
    public const int AcceptLength = 28;

    /// <summary>The length of a valid <c>Sec-WebSocket-Key</c>: base64 of 16 bytes.</summary>
    private const int KeyLength = 24;

    private static ReadOnlySpan<byte> AcceptGuid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    /// <summary>A fresh random <c>Sec-WebSocket-Key</c>: base64 of 16 random bytes.</summary>
    public static string CreateKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    /// <summary>Whether <paramref name="key"/> is base64 of exactly 16 bytes, as RFC 6455 requires.</summary>
    public static bool IsValidKey(string key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == KeyLength && Convert.TryFromBase64String(key, decoded, out var written) && written == 16;
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/>.</summary>
    public static string ComputeAccept(string key)
    {
        Span<byte> accept = stackalloc byte[AcceptLength];
        WriteAccept(key, accept);
        return Encoding.ASCII.GetString(accept);
    }

    /// <summary>
    /// Writes the <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/> as ASCII into the first
    /// <see cref="AcceptLength"/> bytes of <paramref name="destination"/>, with no allocation: the server
    /// does this once per connection.
    /// </summary>
    /// <exception cref="ArgumentException">The key is longer than any valid key could be.</exception>
    public static void WriteAccept(ReadOnlySpan<char> key, Span<byte> destination)
    {
        // The client computes accepts for keys it made; the server only for keys IsValidKey passed.
        if (key.Length > 64)
        {
            throw new ArgumentException("A Sec-WebSocket-Key is 24 characters.", nameof(key));
        }

        Span<byte> input = stackalloc byte[64 + 36];
        var keyLength = Encoding.ASCII.GetBytes(key, input);
        AcceptGuid.CopyTo(input[keyLength..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input[..(keyLength + AcceptGuid.Length)], hash);
        Base64.EncodeToUtf8(hash, destination, out _, out _);
    }
}
