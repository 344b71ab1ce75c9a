using LocalWebSocket.Protocol;

namespace LocalWebSocket.Tests.Protocol;

public sealed class QueryStringTests
{
    [Fact]
    public void Decodes_plus_percent_escapes_and_utf8()
    {
        var parsed = QueryString.Parse("name=John+Doe&city=S%C3%A3o%20Paulo&emoji=%F0%9F%98%80&flag&empty=&a%2Bb=1%2B1");

        Assert.Equal("John Doe", parsed["name"]);
        Assert.Equal("São Paulo", parsed["city"]);
        Assert.Equal("😀", parsed["emoji"]);
        Assert.Equal("", parsed["flag"]);
        Assert.Equal("", parsed["empty"]);
        Assert.Equal("1+1", parsed["a+b"]);
    }

    [Fact]
    public void Repeated_key_keeps_the_last_value_and_empty_query_is_empty()
    {
        Assert.Equal("2", QueryString.Parse("k=1&k=2")["k"]);
        Assert.Empty(QueryString.Parse(""));
        Assert.Empty(QueryString.Parse(null));
        Assert.Empty(QueryString.Parse("&&"));
    }

    [Fact]
    public void Malformed_escapes_are_kept_literally()
    {
        var parsed = QueryString.Parse("a=%&b=%4&c=%zz&d=100%");
        Assert.Equal("%", parsed["a"]);
        Assert.Equal("%4", parsed["b"]);
        Assert.Equal("%zz", parsed["c"]);
        Assert.Equal("100%", parsed["d"]);
    }

    [Fact]
    public void Encodes_as_dart_encodeQueryComponent_does()
    {
        var query = QueryString.Build([new("user name", "Zoë & co"), new("safe", "A-z_0.9~"), new("flag", "")]);
        Assert.Equal("user+name=Zo%C3%AB+%26+co&safe=A-z_0.9~&flag", query);
    }

    [Fact]
    public void Round_trips_arbitrary_text()
    {
        var original = new Dictionary<string, string> { ["k é/?&="] = "v +%😀\u00ff", ["x"] = "y" };
        var parsed = QueryString.Parse(QueryString.Build(original));
        Assert.Equal(original, parsed);
    }
}
