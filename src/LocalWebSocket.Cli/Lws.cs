using System.Reflection;

namespace LocalWebSocket.Cli;

/// <summary>Where a command reads and writes, what the terminal can do, and the token Ctrl+C cancels.</summary>
internal sealed record CliContext(TextWriter Output, TextWriter Errors, TextReader Input, CancellationToken Stop)
{
    /// <summary>Whether standard output is a terminal that takes colours (and <c>NO_COLOR</c> is not set).</summary>
    public bool Color { get; init; }

    /// <summary>Whether standard output is a terminal (a person is looking), where <c>lws serve --web</c> draws a QR code.</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>Whether standard error is a terminal, where long waits show their progress on one rewritten line.</summary>
    public bool ShowProgress { get; init; }

    /// <summary>
    /// The process's console: colours only when standard output is a terminal, <c>NO_COLOR</c> is unset or
    /// empty (no-color.org) and <c>TERM</c> is not <c>dumb</c>; progress only when standard error is a terminal.
    /// </summary>
    public static CliContext ForConsole() => new(Console.Out, Console.Error, Console.In, CancellationToken.None)
    {
        Color = UsesColor(!Console.IsOutputRedirected, Environment.GetEnvironmentVariable("NO_COLOR"), Environment.GetEnvironmentVariable("TERM")),
        OutputIsTerminal = !Console.IsOutputRedirected,
        ShowProgress = !Console.IsErrorRedirected,
    };

    /// <summary>Colours on a terminal only, unless <c>NO_COLOR</c> has a value or the terminal is <c>dumb</c>.</summary>
    public static bool UsesColor(bool outputIsTerminal, string? noColor, string? term) =>
        outputIsTerminal && string.IsNullOrEmpty(noColor) && term != "dumb";
}

/// <summary>The <c>lws</c> tool: serve, scan, connect and demo.</summary>
internal static class Lws
{
    private static readonly (CommandSpec Spec, Func<CommandLine, CliContext, Task<int>> Run)[] Commands =
    [
        (ServeCommand.Spec, ServeCommand.RunAsync),
        (ScanCommand.Spec, ScanCommand.RunAsync),
        (ConnectCommand.Spec, ConnectCommand.RunAsync),
        (DemoCommand.Spec, DemoCommand.RunAsync),
    ];

    /// <summary>The tool's version, e.g. <c>0.9.0</c>, from the one version all packages share.</summary>
    public static string Version
    {
        get
        {
            var informational = typeof(Lws).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
            var plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? informational : informational[..plus];
        }
    }

    /// <summary>The text of <c>lws --help</c>.</summary>
    public static string Overview
    {
        get
        {
            var width = Commands.Max(command => command.Spec.Name.Length) + 3;
            var commands = string.Join('\n', Commands.Select(command => $"  {command.Spec.Name.PadRight(width)}{command.Spec.Summary}"));
            return $"""
                lws {Version}: local-network WebSockets: a server, a client, discovery, and a demo.

                Usage: lws COMMAND [options]

                Commands:
                {commands}
                  {"help".PadRight(width)}Shows the help of a command: lws help serve

                Options:
                  --version  Print the version and exit.
                  --help     Show this help and exit.

                Run 'lws COMMAND --help' for the options of a command.
                Exit codes: 0 success, 1 failure, 2 wrong command line.
                """;
        }
    }

    /// <summary>Runs one command with plain output (no colours, no progress line); <paramref name="cancellationToken"/> stops it as Ctrl+C does.</summary>
    public static Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter errors, TextReader input, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliContext(output, errors, input, cancellationToken));

    /// <summary>Runs one command; Ctrl+C and SIGTERM cancel <see cref="CliContext.Stop"/>.</summary>
    public static async Task<int> RunAsync(string[] args, CliContext context)
    {
        if (args.Length == 0)
        {
            context.Errors.WriteLine(Overview);
            return 2;
        }

        switch (args[0])
        {
            case "--help" or "-h":
                context.Output.WriteLine(Overview);
                return 0;
            case "--version":
                context.Output.WriteLine($"lws {Version}");
                return 0;
            case "help":
                return Help(args, context);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.Stop);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, signal =>
            {
                signal.Cancel = true;
                stop.Cancel();
            });
        try
        {
            var (spec, run) = Find(args[0]) ?? throw new UsageException($"unknown command '{args[0]}'");
            var line = CommandLine.Parse(args.AsSpan(1).ToArray(), spec);
            if (line.HelpRequested)
            {
                context.Output.Write(spec.Help);
                return 0;
            }

            return await run(line, context with { Stop = stop.Token });
        }
        catch (UsageException exception)
        {
            var help = exception.Command is { } command ? $"lws {command} --help" : "lws --help";
            context.Errors.WriteLine($"lws{(exception.Command is null ? ":" : "")} {exception.Message}. See '{help}'.");
            return 2;
        }
        catch (LocalWebSocketException exception)
        {
            context.Errors.WriteLine($"lws: {exception.Code}: {exception.Message}{(exception.StatusCode is { } status ? $" (HTTP {status})" : "")}");
            return 1;
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            context.Errors.WriteLine($"lws: {exception.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary><c>lws help</c> and <c>lws help COMMAND</c>.</summary>
    private static int Help(string[] args, CliContext context)
    {
        if (args.Length == 1)
        {
            context.Output.WriteLine(Overview);
            return 0;
        }

        if (args.Length == 2 && Find(args[1]) is { } found)
        {
            context.Output.Write(found.Spec.Help);
            return 0;
        }

        context.Errors.WriteLine(args.Length == 2
            ? $"lws: unknown command '{args[1]}'. See 'lws --help'."
            : "lws: help takes one command, e.g. lws help serve. See 'lws --help'.");
        return 2;
    }

    private static (CommandSpec Spec, Func<CommandLine, CliContext, Task<int>> Run)? Find(string name)
    {
        foreach (var command in Commands)
        {
            if (command.Spec.Name == name)
            {
                return command;
            }
        }

        return null;
    }
}
