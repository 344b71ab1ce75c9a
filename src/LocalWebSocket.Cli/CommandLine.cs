using System.Globalization;
using System.Text;

namespace LocalWebSocket.Cli;

/// <summary>One option of a command. A null <see cref="Value"/> makes it a flag; otherwise it names the value in help.</summary>
internal sealed record OptionSpec(string Name, string? Value, string Help);

/// <summary>
/// What a command takes and says about itself. The parser and <c>--help</c> are made from this one table,
/// so the help never lists an option the parser refuses, or the other way round.
/// </summary>
/// <remarks>
/// System.CommandLine 2.x was considered: it would bring tab completion and response files, but its default
/// error output is a block of help text with exit code 1, where the tools people script against print one
/// line and exit 2; bending it to that took more code than this table and its parser.
/// </remarks>
internal sealed record CommandSpec(string Name, string Arguments, string Summary, string Description, IReadOnlyList<OptionSpec> Options)
{
    private static readonly OptionSpec HelpOption = new("--help", null, "Show this help and exit.");

    /// <summary>The text of <c>lws NAME --help</c>.</summary>
    public string Help
    {
        get
        {
            var help = new StringBuilder();
            help.Append("Usage: lws ").Append(Name);
            if (Arguments.Length > 0)
            {
                help.Append(' ').Append(Arguments);
            }

            help.Append(Options.Count > 0 ? " [options]" : "").Append("\n\n").Append(Summary).Append('\n');
            if (Description.Length > 0)
            {
                help.Append('\n').Append(Description.TrimEnd()).Append('\n');
            }

            help.Append("\nOptions:\n");
            OptionSpec[] all = [.. Options, HelpOption];
            var width = all.Max(option => Label(option).Length) + 2;
            foreach (var option in all)
            {
                var lines = option.Help.Split('\n');
                help.Append("  ").Append(Label(option).PadRight(width)).Append(lines[0]).Append('\n');
                foreach (var more in lines.Skip(1))
                {
                    help.Append("  ").Append(' ', width).Append(more).Append('\n');
                }
            }

            return help.ToString();
        }
    }

    private static string Label(OptionSpec option) => option.Value is null ? option.Name : $"{option.Name} {option.Value}";
}

/// <summary>A command line parsed against a <see cref="CommandSpec"/>: positional arguments, option values and flags.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    private CommandLine(CommandSpec command) => Command = command;

    /// <summary>The command this line was parsed for.</summary>
    public CommandSpec Command { get; }

    public List<string> Positional { get; } = [];

    /// <summary>Whether <c>--help</c> or <c>-h</c> was given: the command prints its help instead of running.</summary>
    public bool HelpRequested { get; private set; }

    /// <summary>
    /// Parses <paramref name="args"/>: <c>--name value</c>, <c>--name=value</c>, flags, positional arguments, and
    /// <c>--</c> before positional arguments that start with a dash.
    /// </summary>
    /// <exception cref="UsageException">An unknown option, a flag given a value, or an option missing its value.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args, CommandSpec command)
    {
        var line = new CommandLine(command);
        var options = command.Options.ToDictionary(option => option.Name, StringComparer.Ordinal);
        var onlyPositional = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (onlyPositional || arg.Length < 2 || arg[0] != '-')
            {
                line.Positional.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositional = true;
                continue;
            }

            if (arg is "--help" or "-h")
            {
                line.HelpRequested = true;
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            if (!options.TryGetValue(name, out var option))
            {
                throw line.Error($"unknown option {name}");
            }

            if (option.Value is null)
            {
                if (equals >= 0)
                {
                    throw line.Error($"{name} takes no value");
                }

                line._flags.Add(name);
                continue;
            }

            string value;
            if (equals >= 0)
            {
                value = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw line.Error($"{name} needs a value ({option.Value})");
            }

            if (!line._values.TryGetValue(name, out var list))
            {
                line._values[name] = list = [];
            }

            list.Add(value);
        }

        return line;
    }

    /// <summary>A usage error of this command, told in one line with where to read more.</summary>
    public UsageException Error(string message) => new($"{Command.Name}: {message}", Command.Name);

    public bool Has(string flag) => _flags.Contains(flag);

    public IReadOnlyList<string> All(string option) => _values.TryGetValue(option, out var list) ? list : [];

    public string? Last(string option) => _values.TryGetValue(option, out var list) ? list[^1] : null;

    public int Int(string option, int fallback, int min, int max)
    {
        var text = Last(option);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw Error($"{option} must be a whole number from {min.ToString("N0", CultureInfo.InvariantCulture)} to {max.ToString("N0", CultureInfo.InvariantCulture)}, not '{text}'");
        }

        return value;
    }

    /// <summary>
    /// A time in seconds, fractions allowed (<c>0.5</c>), up to <paramref name="maxSeconds"/>; 0 only when
    /// <paramref name="zeroAllowed"/> (an option where 0 means off).
    /// </summary>
    public TimeSpan Seconds(string option, TimeSpan fallback, double maxSeconds, bool zeroAllowed)
    {
        var text = Last(option);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || value > maxSeconds || (value == 0 && !zeroAllowed))
        {
            var range = zeroAllowed ? "from 0" : "over 0";
            throw Error($"{option} takes seconds {range} to {maxSeconds.ToString("N0", CultureInfo.InvariantCulture)} (fractions allowed), not '{text}'");
        }

        return TimeSpan.FromSeconds(value);
    }

    /// <summary>The <c>key=value</c> pairs of a repeatable option such as <c>--detail</c>.</summary>
    public Dictionary<string, string> Pairs(string option)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in All(option))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw Error($"{option} takes key=value, not '{item}'");
            }

            pairs[item[..equals]] = item[(equals + 1)..];
        }

        return pairs;
    }

    /// <summary>
    /// The interfaces of a repeatable <c>--interface</c>: each an address of this machine (<c>192.168.1.20</c>,
    /// <c>fe80::1%2</c>) or an interface's name (<c>eth0</c>: its IPv4 address, else its first IPv6 one).
    /// </summary>
    public List<System.Net.IPAddress> Interfaces(string option)
    {
        var addresses = new List<System.Net.IPAddress>();
        foreach (var text in All(option))
        {
            try
            {
                addresses.Add(LocalWebSocket.LocalNetworkInterfaces.Resolve(text));
            }
            catch (ArgumentException)
            {
                throw Error($"{option} takes an address or the name of an interface of this machine (192.168.1.20, fe80::1%2, eth0), not '{text}'");
            }
        }

        return addresses;
    }

    /// <summary>
    /// A URL as a user would type it back: with the IPv6 zone (<c>ws://[fe80::1%2]:8080/ws</c>) that <see cref="Uri.ToString"/>
    /// leaves out, and escaped (<see cref="Uri.ToString"/> unescapes, and <c>?token=a b</c> is no address to open or scan).
    /// </summary>
    public static string UrlText(Uri? url) =>
        url is null ? ""
        : !url.IsAbsoluteUri ? url.ToString()
        : url.HostNameType == UriHostNameType.IPv6 && url.IdnHost.Contains('%', StringComparison.Ordinal) ? url.OriginalString
        : url.AbsoluteUri;

    /// <summary>Fails when positional arguments were given to a command that takes none.</summary>
    public void NoPositional()
    {
        if (Positional.Count > 0)
        {
            throw Error($"unexpected argument '{Positional[0]}'");
        }
    }
}

/// <summary>The command line is wrong: the message says how, in one line, and the tool exits with 2.</summary>
internal sealed class UsageException(string message, string? command = null) : Exception(message)
{
    /// <summary>The command whose help explains the mistake, if one was recognised.</summary>
    public string? Command { get; } = command;
}
