using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Protocol;

/// <summary>What a permessage-deflate negotiation settled on for one connection.</summary>
/// <param name="Header">The accepted extension as the response header says it.</param>
/// <param name="Options">The options of the connection's WebSocket (windows of 9 to 15 bits, as zlib needs).</param>
/// <param name="CompressesOutgoing">
/// False when the peer asked for an 8-bit window for our side, which zlib cannot compress with: we then send
/// every message uncompressed (RFC 7692 lets any message go uncompressed) and still inflate the peer's.
/// </param>
internal sealed record DeflateAgreement(string Header, WebSocketDeflateOptions Options, bool CompressesOutgoing)
{
    /// <summary>The flags of every message this side sends over the connection.</summary>
    public static WebSocketMessageFlags SendFlags(DeflateAgreement? agreement) =>
        agreement is { CompressesOutgoing: false }
            ? WebSocketMessageFlags.EndOfMessage | WebSocketMessageFlags.DisableCompression
            : WebSocketMessageFlags.EndOfMessage;
}

/// <summary>
/// permessage-deflate negotiation (RFC 7692 section 7.1), both sides: the client's offer and its reading of
/// the answer, the server's choice among the offers. The compression itself is the BCL's
/// (<see cref="WebSocketCreationOptions.DangerousDeflateOptions"/>).
/// </summary>
internal static class DeflateNegotiation
{
    private const string ExtensionName = "permessage-deflate";

    /// <summary>zlib cannot compress with a window below 9 bits (it would quietly use 9, which the peer could not inflate).</summary>
    private const int SmallestZlibWindow = 9;

    /// <summary>The largest window, and the one assumed when a side says nothing.</summary>
    private const int LargestWindow = 15;

    /// <summary>
    /// The server's side: the first of the client's permessage-deflate offers (in the order of the
    /// <c>Sec-WebSocket-Extensions</c> headers and their comma-separated lists) that can be honoured within
    /// <paramref name="limits"/>; an offer with an unknown, repeated or out-of-range parameter is declined
    /// and the next one tried. Declining them all is valid: the connection then runs uncompressed.
    /// </summary>
    /// <param name="offers">The values of every <c>Sec-WebSocket-Extensions</c> header of the request.</param>
    /// <param name="limits">
    /// What this server accepts: <see cref="WebSocketDeflateOptions.ServerMaxWindowBits"/> and
    /// <see cref="WebSocketDeflateOptions.ServerContextTakeover"/> for its own compression,
    /// <see cref="WebSocketDeflateOptions.ClientMaxWindowBits"/> and <see cref="WebSocketDeflateOptions.ClientContextTakeover"/>
    /// for what it asks of the client.
    /// </param>
    /// <returns>What was agreed, or null when no offer was accepted.</returns>
    public static DeflateAgreement? Negotiate(IEnumerable<string> offers, WebSocketDeflateOptions limits)
    {
        foreach (var header in offers)
        {
            foreach (var offer in SplitList(header))
            {
                if (TryAccept(offer, limits) is { } agreement)
                {
                    return agreement;
                }
            }
        }

        return null;
    }

    private static DeflateAgreement? TryAccept(string offer, WebSocketDeflateOptions limits)
    {
        var parts = SplitParameters(offer);
        if (parts.Count == 0 || !parts[0].Name.Equals(ExtensionName, StringComparison.OrdinalIgnoreCase) || parts[0].Value is not null)
        {
            return null;
        }

        bool serverNoTakeover = false, clientNoTakeover = false, clientBitsOffered = false;
        int? serverBits = null, clientBits = null;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in parts.Skip(1))
        {
            if (!seen.Add(name))
            {
                return null;
            }

            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover" when value is null:
                    serverNoTakeover = true;
                    break;
                case "client_no_context_takeover" when value is null:
                    clientNoTakeover = true;
                    break;
                case "server_max_window_bits" when TryWindowBits(value, out var bits):
                    serverBits = bits;
                    break;
                case "client_max_window_bits" when value is null:
                    clientBitsOffered = true;
                    break;
                case "client_max_window_bits" when TryWindowBits(value, out var bits):
                    clientBitsOffered = true;
                    clientBits = bits;
                    break;
                default:
                    return null;
            }
        }

        // Our own window: at most what we allow, and what the client asked, if it asked. An 8-bit window is
        // granted by sending uncompressed (zlib cannot compress with it): declining would lose compression
        // both ways, when the client's messages can still be inflated.
        var ourWindow = Math.Min(limits.ServerMaxWindowBits, serverBits ?? LargestWindow);

        // The client's window. Limiting it takes client_max_window_bits in the answer, which only an offer
        // that has it allows; without it in the answer the client may use 15 bits, whatever its offer hinted,
        // so the inflater then takes 15 (a larger window reads any smaller one).
        var limitClient = limits.ClientMaxWindowBits < LargestWindow;
        if (limitClient && !clientBitsOffered)
        {
            return null;
        }

        var clientWindow = limitClient ? Math.Min(limits.ClientMaxWindowBits, clientBits ?? LargestWindow) : LargestWindow;

        var answer = new StringBuilder(ExtensionName);
        var ourTakeover = limits.ServerContextTakeover && !serverNoTakeover;
        var clientTakeover = limits.ClientContextTakeover && !clientNoTakeover;
        if (!ourTakeover)
        {
            answer.Append("; server_no_context_takeover");
        }

        if (!clientTakeover)
        {
            answer.Append("; client_no_context_takeover");
        }

        if (ourWindow < LargestWindow || serverBits is not null)
        {
            answer.Append("; server_max_window_bits=").Append(ourWindow.ToString(CultureInfo.InvariantCulture));
        }

        if (limitClient)
        {
            answer.Append("; client_max_window_bits=").Append(clientWindow.ToString(CultureInfo.InvariantCulture));
        }

        var options = new WebSocketDeflateOptions
        {
            ServerMaxWindowBits = Math.Max(ourWindow, SmallestZlibWindow),
            ServerContextTakeover = ourTakeover,
            // A client compressing with an 8-bit window is inflated with a 9-bit one: a larger window reads it.
            ClientMaxWindowBits = Math.Max(clientWindow, SmallestZlibWindow),
            ClientContextTakeover = clientTakeover,
        };
        return new DeflateAgreement(answer.ToString(), options, CompressesOutgoing: ourWindow >= SmallestZlibWindow);
    }

    /// <summary>A window size of 8 to 15 bits, quoted or not.</summary>
    private static bool TryWindowBits(string? value, out int bits)
    {
        bits = 0;
        return value is not null
            && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out bits)
            && bits is >= 8 and <= LargestWindow
            && value.Length <= 2;
    }

    /// <summary>The comma-separated extensions of one header value; commas inside quoted strings do not split.</summary>
    private static List<string> SplitList(string header)
    {
        var items = new List<string>();
        var start = 0;
        var quoted = false;
        for (var i = 0; i < header.Length; i++)
        {
            if (header[i] == '"')
            {
                quoted = !quoted;
            }
            else if (header[i] == ',' && !quoted)
            {
                items.Add(header[start..i]);
                start = i + 1;
            }
        }

        items.Add(header[start..]);
        return [.. items.Select(item => item.Trim()).Where(item => item.Length > 0)];
    }

    /// <summary>An extension and its parameters, <c>name[=value]</c> separated by semicolons; a quoted value is unquoted.</summary>
    private static List<(string Name, string? Value)> SplitParameters(string extension)
    {
        var parameters = new List<(string, string?)>();
        foreach (var part in extension.Split(';'))
        {
            var trimmed = part.Trim(' ', '\t');
            var equals = trimmed.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? trimmed : trimmed[..equals]).Trim(' ', '\t');
            var value = equals < 0 ? null : trimmed[(equals + 1)..].Trim(' ', '\t');
            if (value is { Length: >= 2 } && value[0] == '"' && value[^1] == '"')
            {
                value = value[1..^1];
            }

            if (!OptionGuards.IsHttpToken(name) || (value is not null && !OptionGuards.IsHttpToken(value)))
            {
                return [];
            }

            parameters.Add((name, value));
        }

        return parameters;
    }

    /// <summary>
    /// The <c>Sec-WebSocket-Extensions</c> offer for <paramref name="options"/>. With client context takeover
    /// allowed, a second offer follows that gives it up: a server that prefers less memory per connection
    /// (some accept no-context-takeover only when the offer hints it, RFC 7692 section 7.1.1.2) picks that one,
    /// any other server the first.
    /// </summary>
    public static string Offer(WebSocketDeflateOptions options)
    {
        var offer = new StringBuilder(ExtensionName).Append("; client_max_window_bits");
        if (options.ClientMaxWindowBits < LargestWindow)
        {
            offer.Append('=').Append(options.ClientMaxWindowBits.ToString(CultureInfo.InvariantCulture));
        }

        if (options.ServerMaxWindowBits < LargestWindow)
        {
            offer.Append("; server_max_window_bits=").Append(options.ServerMaxWindowBits.ToString(CultureInfo.InvariantCulture));
        }

        if (!options.ServerContextTakeover)
        {
            offer.Append("; server_no_context_takeover");
        }

        var first = offer.ToString();
        return options.ClientContextTakeover
            ? first + ", " + first + "; client_no_context_takeover"
            : first + "; client_no_context_takeover";
    }

    /// <summary>The options the server's answer settles on.</summary>
    /// <exception cref="FormatException">The answer is not a valid acceptance of our offer.</exception>
    public static DeflateAgreement Accept(string response, WebSocketDeflateOptions offered)
    {
        var parts = response.Split(';', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || !parts[0].Equals(ExtensionName, StringComparison.OrdinalIgnoreCase) || response.Contains(',', StringComparison.Ordinal))
        {
            throw new FormatException($"The server answered an extension we did not offer: '{response}'.");
        }

        var accepted = new WebSocketDeflateOptions
        {
            ClientMaxWindowBits = offered.ClientMaxWindowBits,
            ClientContextTakeover = offered.ClientContextTakeover,
            ServerMaxWindowBits = 15,
            ServerContextTakeover = true,
        };
        var compresses = true;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parts.Skip(1))
        {
            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? parameter : parameter[..equals]).Trim();
            var value = equals < 0 ? null : parameter[(equals + 1)..].Trim().Trim('"');
            if (!seen.Add(name))
            {
                throw new FormatException($"The server repeated deflate parameter '{name}'.");
            }

            switch (name.ToLowerInvariant())
            {
                case "client_no_context_takeover" when value is null:
                    accepted.ClientContextTakeover = false;
                    break;
                case "server_no_context_takeover" when value is null:
                    accepted.ServerContextTakeover = false;
                    break;
                case "client_max_window_bits":
                    // An 8-bit window, which zlib cannot compress with, is honoured by sending uncompressed.
                    var clientBits = Math.Min(WindowBits(value, name), offered.ClientMaxWindowBits);
                    compresses = clientBits >= SmallestZlibWindow;
                    accepted.ClientMaxWindowBits = Math.Max(clientBits, SmallestZlibWindow);
                    break;
                case "server_max_window_bits":
                    var bits = WindowBits(value, name);
                    if (bits > offered.ServerMaxWindowBits)
                    {
                        throw new FormatException("The server chose a larger server window than offered.");
                    }

                    // zlib's smallest window is 9 bits; inflating an 8-bit stream with it is fine.
                    accepted.ServerMaxWindowBits = Math.Max(bits, SmallestZlibWindow);
                    break;
                default:
                    throw new FormatException($"Unknown or malformed deflate parameter '{parameter}'.");
            }
        }

        return new DeflateAgreement(response, accepted, compresses);
    }

    private static int WindowBits(string? value, string name) =>
        TryWindowBits(value, out var bits) ? bits : throw new FormatException($"Deflate parameter {name} needs a value from 8 to 15.");
}
