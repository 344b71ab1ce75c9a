using LocalWebSocket.Client;
using LocalWebSocket.Security;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Security;

public sealed class RequestAuthenticationTests
{
    private static Task<LocalWebSocketServer> StartWithTokensAsync(params string[] tokens) =>
        TestServers.StartAsync(o => o.RequestAuthenticator = new QueryTokenAuthenticator(tokens));

    [Fact]
    public async Task Missing_token_is_401_and_wrong_token_is_403_with_the_json_error_body()
    {
        await using var server = await StartWithTokensAsync("secret123");

        var missing = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());
        var wrong = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade("/ws?token=nope"));

        Assert.Equal(401, RawConnection.StatusOf(missing));
        Assert.EndsWith("""{"error":{"code":"AUTHENTICATION_FAILED","message":"Missing token parameter","statusCode":401}}""", missing, StringComparison.Ordinal);
        Assert.Equal(403, RawConnection.StatusOf(wrong));
        Assert.EndsWith("""{"error":{"code":"AUTHENTICATION_FAILED","message":"Invalid token","statusCode":403}}""", wrong, StringComparison.Ordinal);
        Assert.Empty(server.Clients);
        Assert.Equal(2, server.GetStatistics().AuthenticationFailures);
    }

    [Fact]
    public async Task Our_client_reports_the_refusal_and_a_valid_token_joins_without_exposing_it()
    {
        await using var server = await StartWithTokensAsync("a", "secret123");
        var joined = new Probe<ConnectedClient>();
        server.ClientConnected += (_, e) => joined.Add(e.Client);
        await using var without = new LocalWebSocketClient();
        await using var with = new LocalWebSocketClient(new LocalWebSocketClientOptions { Details = { ["token"] = "secret123", ["name"] = "ann" } });

        var refused = await Assert.ThrowsAsync<LocalWebSocketException>(() => without.ConnectAsync(server.WebSocketUrl));
        await with.ConnectAsync(server.WebSocketUrl).Within();

        Assert.Equal(LocalWebSocketErrorCode.AuthenticationFailed, refused.Code);
        Assert.Equal(401, refused.StatusCode);
        Assert.Equal("Missing token parameter", refused.Message);
        var client = (await joined.WaitForCountAsync(1))[0];
        Assert.Equal("ann", client.Details["name"]);
        Assert.False(client.Details.ContainsKey("token"));
    }

    [Fact]
    public async Task A_throwing_authenticator_denies_with_500_and_the_server_goes_on()
    {
        await using var server = await TestServers.StartAsync(o => o.RequestAuthenticator = new ThrowingAuthenticator());

        var response = await RawConnection.ExchangeAsync(server.Port, RawConnection.Upgrade());

        Assert.Equal(500, RawConnection.StatusOf(response));
        Assert.Equal(200, RawConnection.StatusOf(await RawConnection.ExchangeAsync(server.Port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")));
    }

    [Fact]
    public void Token_authenticator_refuses_bad_configuration()
    {
        Assert.Throws<ArgumentException>(() => new QueryTokenAuthenticator([]));
        Assert.Throws<ArgumentException>(() => new QueryTokenAuthenticator([""]));
        Assert.Throws<ArgumentException>(() => new QueryTokenAuthenticator(["t"], ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => AuthenticationResult.Deny(200, "not an error"));
    }

    private sealed class ThrowingAuthenticator : IRequestAuthenticator
    {
        public ValueTask<AuthenticationResult> AuthenticateAsync(HandshakeRequest request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("authenticator bug");
    }
}
