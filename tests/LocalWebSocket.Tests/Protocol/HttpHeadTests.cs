using System.Text;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Tests.Protocol;

public sealed class HttpHeadTests
{
    private static HttpHead Parse(string head) => HttpHead.ParseRequest(Encoding.Latin1.GetBytes(head), 64);

    private static int StatusOfFailure(string head) => Assert.Throws<HttpParseException>(() => Parse(head)).StatusCode;

    [Fact]
    public void Parses_request_line_headers_path_and_query()
    {
        var head = Parse("GET /ws?name=a+b&x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nX-Empty:\r\n\r\n");

        Assert.Equal("GET", head.Method);
        Assert.Equal("/ws", head.Path);
        Assert.Equal("name=a+b&x", head.Query);
        Assert.Equal(1, head.MinorVersion);
        Assert.True(head.HeaderContainsToken("connection", "upgrade"));
        Assert.True(head.TryGetHeader("x-empty", out var empty));
        Assert.Equal("", empty);
    }

    [Fact]
    public void Common_text_is_shared_between_requests_and_other_text_is_kept_as_sent()
    {
        const string Request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Rare: Value\r\nupgrade: WebSocket\r\n\r\n";
        var first = Parse(Request);
        var second = Parse(Request);

        Assert.Same(first.Method, second.Method);
        Assert.Same(first.Target, second.Target);
        Assert.Same(first.Headers[1].Key, second.Headers[1].Key);
        Assert.Same(first.Headers[1].Value, second.Headers[1].Value);
        Assert.NotSame(first.Headers[2].Key, second.Headers[2].Key);
        Assert.Equal(
            [new("Host", "127.0.0.1"), new("Upgrade", "websocket"), new("X-Rare", "Value"), new("upgrade", "WebSocket")],
            second.Headers);
    }

    [Fact]
    public void Empty_query_and_fragment_marker_are_tolerated()
    {
        Assert.Equal("", Parse("GET /ws? HTTP/1.1\r\nHost: h\r\n\r\n").Query);
        Assert.Equal("a=1", Parse("GET /ws?a=1# HTTP/1.1\r\nHost: h\r\n\r\n").Query);
        Assert.Null(Parse("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n").Query);
    }

    [Theory]
    [InlineData("GET /ws HTTP/1.1\nHost: h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: h\n\r\n")]
    [InlineData("GET  /ws HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET /ws\r\nHost: h\r\n\r\n")]
    [InlineData("G(T /ws HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET ws HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET http://x/ws HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET /w\u0001s HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost : h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n: h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nX: a\u0000b\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nX: a\rb\r\n\r\n")]
    [InlineData("GET /ws HTTPS/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: h\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: h\r\nX: y")]
    [InlineData("GET /ws HTTP/1.1\r\n")]
    public void Malformed_heads_are_400(string head) => Assert.Equal(400, StatusOfFailure(head));

    [Theory]
    [InlineData("GET /ws HTTP/2.0\r\nHost: h\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.2\r\nHost: h\r\n\r\n")]
    [InlineData("GET /ws HTTP/0.9\r\nHost: h\r\n\r\n")]
    public void Other_http_versions_are_505(string head) => Assert.Equal(505, StatusOfFailure(head));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    public void Every_header_up_to_the_limit_is_kept_in_order(int count)
    {
        var head = Parse("GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"X-{i}: v{i}\r\n")) + "\r\n");

        Assert.Equal(Enumerable.Range(0, count).Select(i => KeyValuePair.Create($"X-{i}", $"v{i}")), head.Headers);
    }

    [Fact]
    public void Too_many_headers_is_431()
    {
        var head = "GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, 65).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.Equal(431, StatusOfFailure(head));
    }

    [Fact]
    public void Parses_a_response_head()
    {
        var head = HttpHead.ParseResponse("HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n"u8, 10);
        Assert.Equal(401, head.StatusCode);
        Assert.Equal("Unauthorized", head.ReasonPhrase);
    }

    [Theory]
    [InlineData("HTTP/1.1 10 X\r\n\r\n")]
    [InlineData("HTTP/1.1 abc X\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    public void Malformed_response_heads_are_refused(string head) =>
        Assert.Throws<HttpParseException>(() => HttpHead.ParseResponse(Encoding.Latin1.GetBytes(head), 10));
}
