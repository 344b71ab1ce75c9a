using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>A text writer whose lines a test can await, for output written from other threads.</summary>
internal sealed class LineWriter : TextWriter
{
    private readonly StringBuilder _partial = new();

    public Probe<string> Lines { get; } = new();

    public override Encoding Encoding => Encoding.UTF8;

    public string Text => string.Join('\n', Lines.Items);

    public override void Write(char value)
    {
        lock (_partial)
        {
            if (value == '\n')
            {
                Lines.Add(_partial.ToString().TrimEnd('\r'));
                _partial.Clear();
            }
            else
            {
                _partial.Append(value);
            }
        }
    }

    public async Task<string> WaitForLineAsync(string containing)
    {
        await Lines.WaitUntilAsync(lines => lines.Any(l => l.Contains(containing, StringComparison.Ordinal)));
        return Lines.Items.First(l => l.Contains(containing, StringComparison.Ordinal));
    }
}

/// <summary>Standard input that a test types into, line by line, and then closes.</summary>
internal sealed class ScriptedInput : TextReader
{
    private readonly System.Threading.Channels.Channel<string?> _lines = System.Threading.Channels.Channel.CreateUnbounded<string?>();

    public void Type(string line) => _lines.Writer.TryWrite(line);

    public void EndInput() => _lines.Writer.TryWrite(null);

    public override async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken) =>
        await _lines.Reader.ReadAsync(cancellationToken);

    /// <summary>Blocks until a line is typed, as a console read does (lws reads input on a thread of its own).</summary>
    public override string? ReadLine() => _lines.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
}
