namespace LocalWebSocket.Cli;

/// <summary>A command line split into positional arguments, options with values, and flags.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    /// <summary>Parses <paramref name="args"/>; options not in <paramref name="valueOptions"/> or <paramref name="flagOptions"/> are errors.</summary>
    /// <exception cref="UsageException">An unknown option, or an option missing its value.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flagOptions)
    {
        var line = new CommandLine();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                line.Positional.Add(arg);
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            if (flagOptions.Contains(name))
            {
                if (equals >= 0)
                {
                    throw new UsageException($"{name} takes no value.");
                }

                line._flags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
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
                    throw new UsageException($"{name} needs a value.");
                }

                if (!line._values.TryGetValue(name, out var list))
                {
                    line._values[name] = list = [];
                }

                list.Add(value);
            }
            else
            {
                throw new UsageException($"Unknown option {name}.");
            }
        }

        return line;
    }

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

        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            throw new UsageException($"{option} must be a whole number from {min} to {max}, not '{text}'.");
        }

        return value;
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
                throw new UsageException($"{option} takes key=value, not '{item}'.");
            }

            pairs[item[..equals]] = item[(equals + 1)..];
        }

        return pairs;
    }
}

/// <summary>The command line is wrong: the message says how, and the tool exits with 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
