using System.Net.WebSockets;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Tests.Protocol;

/// <summary>RFC 7692 section 7 negotiation, both sides, against the offers and answers real peers send and hostile ones.</summary>
public sealed class DeflateNegotiationTests
{
    private static readonly WebSocketDeflateOptions Defaults = new();

    [Theory]
    // Chromium and Firefox.
    [InlineData("permessage-deflate; client_max_window_bits", "permessage-deflate")]
    // Node ws, Python websockets with no-context-takeover, the Dart client.
    [InlineData("permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover")]
    [InlineData("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10")]
    [InlineData("permessage-deflate; server_max_window_bits=\"12\"", "permessage-deflate; server_max_window_bits=12")]
    [InlineData("PERMESSAGE-DEFLATE ;  client_max_window_bits=9 ", "permessage-deflate")]
    // An 8-bit window for us is granted, and kept by sending uncompressed.
    [InlineData("permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8")]
    // The first offer we can honour wins, across lists and headers.
    [InlineData("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=7, permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover")]
    public void The_server_accepts_the_first_offer_it_can_honour(string offer, string expected)
    {
        var agreement = DeflateNegotiation.Negotiate([offer], Defaults);

        Assert.NotNull(agreement);
        Assert.Equal(expected, agreement.Header);
        Assert.Equal(!expected.Contains("server_max_window_bits=8", StringComparison.Ordinal), agreement.CompressesOutgoing);
        Assert.InRange(agreement.Options.ServerMaxWindowBits, 9, 15);
        Assert.Equal(!expected.Contains("server_no_context_takeover", StringComparison.Ordinal), agreement.Options.ServerContextTakeover);
    }

    [Theory]
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate; server_max_window_bits=7")]
    [InlineData("permessage-deflate; server_max_window_bits=010")]
    [InlineData("permessage-deflate; server_max_window_bits")]
    [InlineData("permessage-deflate; client_max_window_bits=99")]
    [InlineData("permessage-deflate; server_no_context_takeover=1")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("permessage-deflate; mystery_parameter")]
    [InlineData("permessage-deflate=1")]
    [InlineData("permessage-deflate; server_max_window_bits=1\u00e9")]
    [InlineData("deflate-frame")]
    [InlineData("")]
    [InlineData(" , ,")]
    public void The_server_declines_offers_it_cannot_honour_and_stays_uncompressed(string offer) =>
        Assert.Null(DeflateNegotiation.Negotiate([offer], Defaults));

    [Fact]
    public void Offers_spread_over_several_headers_are_read_in_order() =>
        Assert.Equal(
            "permessage-deflate; client_no_context_takeover",
            DeflateNegotiation.Negotiate(["foo", "permessage-deflate; client_no_context_takeover", "permessage-deflate"], Defaults)?.Header);

    [Fact]
    public void The_servers_own_limits_shape_the_answer()
    {
        var limits = new WebSocketDeflateOptions { ServerMaxWindowBits = 11, ServerContextTakeover = false, ClientMaxWindowBits = 10, ClientContextTakeover = false };

        var agreement = DeflateNegotiation.Negotiate(["permessage-deflate; client_max_window_bits"], limits);

        Assert.Equal(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
            agreement?.Header);
        Assert.Equal(11, agreement!.Options.ServerMaxWindowBits);
        Assert.Equal(10, agreement.Options.ClientMaxWindowBits);
        Assert.False(agreement.Options.ClientContextTakeover);

        // A client window can be limited only if the offer allows it (client_max_window_bits in the offer).
        Assert.Null(DeflateNegotiation.Negotiate(["permessage-deflate"], limits));
    }

    [Fact]
    public void A_huge_offer_is_read_without_trouble()
    {
        var offer = string.Join(", ", Enumerable.Repeat("permessage-deflate; mystery", 2000)) + ", permessage-deflate";

        Assert.Equal("permessage-deflate", DeflateNegotiation.Negotiate([offer], Defaults)?.Header);
    }

    [Fact]
    public void The_client_offers_context_takeover_first_and_a_fallback_without_it()
    {
        Assert.Equal(
            "permessage-deflate; client_max_window_bits, permessage-deflate; client_max_window_bits; client_no_context_takeover",
            DeflateNegotiation.Offer(new WebSocketDeflateOptions()));
        Assert.Equal(
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12; server_no_context_takeover; client_no_context_takeover",
            DeflateNegotiation.Offer(new WebSocketDeflateOptions { ClientMaxWindowBits = 10, ServerMaxWindowBits = 12, ServerContextTakeover = false, ClientContextTakeover = false }));
    }

    [Fact]
    public void Our_offer_read_by_our_server_gives_back_an_answer_our_client_accepts()
    {
        foreach (var offered in new[]
        {
            new WebSocketDeflateOptions(),
            new WebSocketDeflateOptions { ServerMaxWindowBits = 9, ServerContextTakeover = false },
            new WebSocketDeflateOptions { ClientMaxWindowBits = 12, ClientContextTakeover = false },
        })
        {
            var server = DeflateNegotiation.Negotiate([DeflateNegotiation.Offer(offered)], Defaults);
            var client = DeflateNegotiation.Accept(server!.Header, offered);

            Assert.Equal(server.Options.ServerMaxWindowBits, client.Options.ServerMaxWindowBits);
            Assert.Equal(server.Options.ServerContextTakeover, client.Options.ServerContextTakeover);
            Assert.True(client.Options.ClientMaxWindowBits <= server.Options.ClientMaxWindowBits);
            Assert.Equal(server.Options.ClientContextTakeover, client.Options.ClientContextTakeover);
            Assert.True(client.CompressesOutgoing && server.CompressesOutgoing);
        }
    }

    [Fact]
    public void The_client_honours_an_8_bit_window_by_sending_uncompressed()
    {
        var agreement = DeflateNegotiation.Accept("permessage-deflate; client_max_window_bits=8", new WebSocketDeflateOptions());

        Assert.False(agreement.CompressesOutgoing);
        Assert.Equal(WebSocketMessageFlags.EndOfMessage | WebSocketMessageFlags.DisableCompression, DeflateAgreement.SendFlags(agreement));
        Assert.Equal(WebSocketMessageFlags.EndOfMessage, DeflateAgreement.SendFlags(null));
    }

    [Theory]
    [InlineData("permessage-deflate; server_max_window_bits=16")]
    [InlineData("permessage-deflate; client_max_window_bits")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("permessage-deflate; mystery")]
    [InlineData("permessage-deflate, permessage-deflate")]
    [InlineData("x-webkit-deflate-frame")]
    public void The_client_rejects_an_answer_that_is_not_a_valid_acceptance(string answer) =>
        Assert.Throws<FormatException>(() => DeflateNegotiation.Accept(answer, new WebSocketDeflateOptions()));

    [Fact]
    public void The_client_rejects_a_server_window_larger_than_it_offered() =>
        Assert.Throws<FormatException>(() => DeflateNegotiation.Accept(
            "permessage-deflate; server_max_window_bits=12", new WebSocketDeflateOptions { ServerMaxWindowBits = 10 }));
}
