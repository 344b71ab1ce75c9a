using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace LocalWebSocket.Protocol;

/// <summary>The client side of permessage-deflate negotiation (RFC 7692 section 7.1).</summary>
internal static class DeflateNegotiation
{
    private const string ExtensionName = "permessage-deflate";

    /// <summary>The <c>Sec-WebSocket-Extensions</c> offer for <paramref name="options"/>.</summary>
    public static string Offer(WebSocketDeflateOptions options)
    {
        var offer = new StringBuilder(ExtensionName).Append("; client_max_window_bits");
        if (options.ClientMaxWindowBits < 15)
        {
            offer.Append('=').Append(options.ClientMaxWindowBits.ToString(CultureInfo.InvariantCulture));
        }

        if (!options.ClientContextTakeover)
        {
            offer.Append("; client_no_context_takeover");
        }

        if (options.ServerMaxWindowBits < 15)
        {
            offer.Append("; server_max_window_bits=").Append(options.ServerMaxWindowBits.ToString(CultureInfo.InvariantCulture));
        }

        if (!options.ServerContextTakeover)
        {
            offer.Append("; server_no_context_takeover");
        }

        return offer.ToString();
    }

    /// <summary>The options the server's answer settles on.</summary>
    /// <exception cref="FormatException">The answer is not a valid acceptance of our offer.</exception>
    public static WebSocketDeflateOptions Accept(string response, WebSocketDeflateOptions offered)
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
                    accepted.ClientMaxWindowBits = Math.Min(WindowBits(value, name), offered.ClientMaxWindowBits);
                    break;
                case "server_max_window_bits":
                    var bits = WindowBits(value, name);
                    if (bits > offered.ServerMaxWindowBits)
                    {
                        throw new FormatException("The server chose a larger server window than offered.");
                    }

                    // zlib's smallest window is 9 bits; inflating an 8-bit stream with it is fine.
                    accepted.ServerMaxWindowBits = Math.Max(bits, 9);
                    break;
                default:
                    throw new FormatException($"Unknown or malformed deflate parameter '{parameter}'.");
            }
        }

        return accepted;
    }

    private static int WindowBits(string? value, string name)
    {
        if (value is null || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bits) || bits is < 8 or > 15)
        {
            throw new FormatException($"Deflate parameter {name} needs a value from 8 to 15.");
        }

        // Compressing with a window below 9 bits is not possible with zlib.
        return name.StartsWith("client", StringComparison.Ordinal) && bits < 9
            ? throw new FormatException("A client window below 9 bits is not supported.")
            : bits;
    }
}
