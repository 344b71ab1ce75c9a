using System.Diagnostics;

namespace LocalWebSocket.Cli;

/// <summary>Writes timestamped, labelled lines; safe to call from event handlers on several threads.</summary>
internal sealed class Transcript(TextWriter output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    public void Line(string who, string text)
    {
        lock (_gate)
        {
            output.WriteLine($"[{_clock.ElapsedMilliseconds,6} ms] {who,-7} {text}");
            output.Flush();
        }
    }

    public static string Describe(WebSocketMessage message, int maxLength = 200)
    {
        if (message.IsBinary)
        {
            var shown = Convert.ToHexString(message.Data.Span[..Math.Min(message.Data.Length, 16)]);
            return $"binary {message.Data.Length} bytes: {shown}{(message.Data.Length > 16 ? "..." : "")}";
        }

        var text = message.Text;
        return text.Length <= maxLength ? $"text \"{text}\"" : $"text \"{text[..maxLength]}...\" ({text.Length} chars)";
    }

    public static string Describe(IReadOnlyDictionary<string, string> details) =>
        details.Count == 0 ? "{}" : "{" + string.Join(", ", details.Select(d => $"{d.Key}={d.Value}")) + "}";
}
