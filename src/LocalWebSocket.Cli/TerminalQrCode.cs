using System.Text;
using QRCoder;

namespace LocalWebSocket.Cli;

/// <summary>
/// A QR code drawn with text, two modules per character cell (the upper and lower half blocks), so a
/// phone camera pointed at the terminal opens the web client. QRCoder computes the modules; the drawing
/// is ours so that light and dark stay right on a dark terminal too.
/// </summary>
internal static class TerminalQrCode
{
    // The standard asks for a quiet zone of 4 modules around the symbol; phone readers find the code with it.
    private const int QuietZone = 4;

    /// <summary>
    /// The lines of a QR code of <paramref name="text"/> (error correction M: readable with some glare).
    /// With <paramref name="color"/>, every cell is painted black on white with ANSI colours, so that the
    /// code reads on a dark terminal (which would otherwise show it inverted); without, dark modules are
    /// block characters on the page's own background (a file, a light terminal).
    /// </summary>
    public static IReadOnlyList<string> Render(string text, bool color)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        var matrix = data.ModuleMatrix;

        // QRCoder's matrix already carries a 4-module quiet zone on every side; draw it whole.
        var size = matrix.Count;
        System.Diagnostics.Debug.Assert(size > 2 * QuietZone && matrix.TrueForAll(row => row.Length == size), "a square symbol with its quiet zone");
        bool Dark(int row, int column) => row < size && matrix[row][column];

        var lines = new List<string>((size + 1) / 2);
        var line = new StringBuilder(size + 16);
        for (var row = 0; row < size; row += 2)
        {
            line.Clear();
            if (color)
            {
                line.Append("\e[30;107m");
            }

            for (var column = 0; column < size; column++)
            {
                line.Append((Dark(row, column), Dark(row + 1, column)) switch
                {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    _ => ' ',
                });
            }

            if (color)
            {
                line.Append("\e[0m");
            }

            lines.Add(line.ToString());
        }

        return lines;
    }
}
