using System.Net.Sockets;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>A plain TCP connection to a test server, for handshake bytes no well-behaved client would send.</summary>
internal sealed class RawConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public Socket Socket => _tcp.Client;

    public NetworkStream Stream => _stream;

    public static async Task<RawConnection> OpenAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port).WaitAsync(TestServers.Timeout);
        return new RawConnection(tcp);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes).AsTask().WaitAsync(TestServers.Timeout);

    /// <summary>Reads until the blank line that ends a response head.</summary>
    public async Task<string> ReadHeadAsync()
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(head))
        {
            var read = await _stream.ReadAsync(one).AsTask().WaitAsync(TestServers.Timeout);
            if (read == 0)
            {
                break;
            }

            head.Add(one[0]);
        }

        return Encoding.Latin1.GetString([.. head]);
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes (a body whose length the head gave), as UTF-8.</summary>
    public async Task<string> ReadStringAsync(int length)
    {
        var bytes = new byte[length];
        await _stream.ReadExactlyAsync(bytes).AsTask().WaitAsync(TestServers.Timeout);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads until the server closes the connection.</summary>
    public async Task<string> ReadToEndAsync()
    {
        var all = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            int read;
            try
            {
                read = await _stream.ReadAsync(buffer).AsTask().WaitAsync(TestServers.Timeout);
            }
            catch (IOException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            all.Write(buffer, 0, read);
        }

        return Encoding.Latin1.GetString(all.ToArray());
    }

    /// <summary>Sends a request and reads the whole response of a server that closes after it.</summary>
    public static async Task<string> ExchangeAsync(int port, string request)
    {
        await using var connection = await OpenAsync(port);
        await connection.SendAsync(request);
        return await connection.ReadToEndAsync();
    }

    public static int StatusOf(string response) =>
        response.Length >= 12 && response.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(response.AsSpan(9, 3)) : -1;

    public static string Upgrade(string target = "/ws", string? extraHeaders = null) =>
        $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";

    /// <summary>Client frames (masked, binary, each under 126 bytes) back to back, to be written at once.</summary>
    public static byte[] MaskedBinaryFrames(IEnumerable<byte[]> payloads)
    {
        var frames = new MemoryStream();
        byte[] mask = [0x37, 0xfa, 0x21, 0x3d];
        foreach (var payload in payloads)
        {
            frames.WriteByte(0x82);
            if (payload.Length < 126)
            {
                frames.WriteByte((byte)(0x80 | payload.Length));
            }
            else
            {
                // RFC 6455 section 5.2: 126, then the length in 16 bits, network order (tests stay under 64 KiB).
                ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, ushort.MaxValue);
                frames.WriteByte(0x80 | 126);
                frames.WriteByte((byte)(payload.Length >> 8));
                frames.WriteByte((byte)payload.Length);
            }

            frames.Write(mask);
            for (var i = 0; i < payload.Length; i++)
            {
                frames.WriteByte((byte)(payload[i] ^ mask[i % 4]));
            }
        }

        return frames.ToArray();
    }

    private static bool EndsWithBlankLine(List<byte> data) =>
        data.Count >= 4 && data[^4] == '\r' && data[^3] == '\n' && data[^2] == '\r' && data[^1] == '\n';

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
