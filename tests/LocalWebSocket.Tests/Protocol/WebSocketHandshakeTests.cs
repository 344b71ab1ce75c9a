using System.Security.Cryptography;
using System.Text;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Tests.Protocol;

public sealed class WebSocketHandshakeTests
{
    [Fact]
    public void Accept_of_the_rfc_6455_sample_key_is_the_rfc_value()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    [Fact]
    public void Accept_matches_sha1_of_key_and_guid_for_random_keys()
    {
        for (var i = 0; i < 20; i++)
        {
            var key = WebSocketHandshake.CreateKey();
            var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

            Assert.True(WebSocketHandshake.IsValidKey(key));
            Assert.Equal(expected, WebSocketHandshake.ComputeAccept(key));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("chat.v2")]
    public void Switching_protocols_response_is_written_in_place_and_fits_its_bound(string? subProtocol)
    {
        const string Key = "dGhlIHNhbXBsZSBub25jZQ==";
        var buffer = new byte[HttpResponses.SwitchingProtocolsMaxLength(subProtocol)];

        var length = HttpResponses.WriteSwitchingProtocols(buffer, Key, subProtocol);

        var expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            + (subProtocol is null ? "" : $"Sec-WebSocket-Protocol: {subProtocol}\r\n") + "\r\n";
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, length));
        Assert.True(length <= buffer.Length);
    }

    [Fact]
    public void An_accept_for_an_impossibly_long_key_is_refused()
    {
        Assert.Throws<ArgumentException>(() => WebSocketHandshake.ComputeAccept(new string('A', 65)));
    }
}
