using System.Collections.Concurrent;
using System.Diagnostics;

namespace LocalWebSocket.Cli;

/// <summary>
/// Writes lines to an output from one thread of its own. Whoever calls <see cref="Write"/> (an event handler
/// on a connection's receive loop, say) never waits for the output: a terminal paused with Ctrl+S or a pipe
/// nobody reads blocks that thread alone, and past <see cref="Capacity"/> waiting lines new ones are dropped
/// and counted, so a stuck console can never hold up the server or the client the tool runs.
/// </summary>
internal sealed class OutputLines : IAsyncDisposable
{
    /// <summary>Lines that may wait for a slow output before new ones are dropped.</summary>
    public const int Capacity = 10_000;

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly TextWriter _output;
    private readonly BlockingCollection<string> _lines = new(Capacity);
    private readonly Thread _writer;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;

    public OutputLines(TextWriter output)
    {
        _output = output;
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "lws output" };
        _writer.Start();
    }

    /// <summary>Lines dropped because the output did not keep up.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues a line; never blocks: when <see cref="Capacity"/> lines wait already, it is dropped and counted.</summary>
    public void Write(string line) => Add(line, TimeSpan.Zero);

    /// <summary>
    /// Queues a line of the command's own (its start, its final counts), waiting a few seconds for room rather
    /// than dropping it. Never from an event handler: that thread is a connection's.
    /// </summary>
    public void WriteWaiting(string line) => Add(line, DrainTimeout);

    private void Add(string line, TimeSpan wait)
    {
        try
        {
            if (!_lines.TryAdd(line, wait))
            {
                Interlocked.Increment(ref _dropped);
            }
        }
        catch (InvalidOperationException)
        {
            // Written after the end (a late event while the command returns): nobody reads it any more.
        }
    }

    /// <summary>Writes what is queued, waiting for a stuck output at most a few seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        _lines.CompleteAdding();
        await _drained.Task.WaitAsync(DrainTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void WriteLines()
    {
        try
        {
            var reported = 0L;
            foreach (var line in _lines.GetConsumingEnumerable())
            {
                _output.WriteLine(line);
                if (_lines.Count == 0)
                {
                    var dropped = Dropped;
                    if (dropped > reported)
                    {
                        _output.WriteLine($"[{dropped - reported} lines not shown: the output did not keep up]");
                        reported = dropped;
                    }

                    _output.Flush();
                }
            }
        }
        catch (IOException)
        {
            // The output went away (a closed pipe): there is nowhere left to write.
        }
        finally
        {
            _drained.TrySetResult();
        }
    }
}

/// <summary>Timestamped, labelled lines for people, written through <see cref="OutputLines"/>; safe from any thread.</summary>
internal sealed class Transcript : IAsyncDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly OutputLines _lines;
    private readonly bool _color;

    public Transcript(TextWriter output, bool color = false)
    {
        _lines = new OutputLines(output);
        _color = color;
    }

    /// <summary>A line from anywhere, event handlers included: it never waits (see <see cref="OutputLines.Write"/>).</summary>
    public void Line(string who, string text) => _lines.Write(Format(who, text));

    /// <summary>A line of the command's own steps, which waits for room rather than being dropped (see <see cref="OutputLines.WriteWaiting"/>).</summary>
    public void Report(string who, string text) => _lines.WriteWaiting(Format(who, text));

    /// <summary>A line as it is, with no stamp or label (a drawing such as a QR code), waiting for room like <see cref="Report"/>.</summary>
    public void Verbatim(string text) => _lines.WriteWaiting(text);

    private string Format(string who, string text)
    {
        var stamp = $"[{_clock.ElapsedMilliseconds,6} ms]";
        return _color ? $"{Ansi.Dim}{stamp}{Ansi.Reset} {Ansi.Label(who)}{who,-7}{Ansi.Reset} {text}" : $"{stamp} {who,-7} {text}";
    }

    public ValueTask DisposeAsync() => _lines.DisposeAsync();

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

    /// <summary>How a connection ended: "1000", "1001 Server stopping", or "no close frame" (it broke).</summary>
    public static string DescribeClose(System.Net.WebSockets.WebSocketCloseStatus? status, string? reason) =>
        status is not { } code ? "no close frame" : string.IsNullOrEmpty(reason) ? $"{(int)code}" : $"{(int)code} {reason}";

    public static string Describe(IReadOnlyDictionary<string, string> details) =>
        details.Count == 0 ? "{}" : "{" + string.Join(", ", details.Select(d => $"{d.Key}={d.Value}")) + "}";
}

/// <summary>The few ANSI styles the tool uses, on a terminal only (see <see cref="CliContext.Color"/>).</summary>
internal static class Ansi
{
    public const string Reset = "\e[0m";
    public const string Dim = "\e[2m";
    public const string Bold = "\e[1m";
    public const string Red = "\e[31m";
    public const string Green = "\e[32m";

    private static readonly string[] Palette = ["\e[36m", "\e[32m", "\e[35m", "\e[33m", "\e[34m"];

    /// <summary>A label's colour: red for failures, otherwise one of a few, the same for the same label.</summary>
    public static string Label(string who) => who switch
    {
        "error" or "removed" => Red,
        "added" => Green,
        _ => Palette[(int)((uint)StableHash(who) % (uint)Palette.Length)],
    };

    private static int StableHash(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }
}
