using System.Reflection;
using LocalWebSocket.Cli;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Cli;

/// <summary>How lws behaves as a command line: help, version, and one-line errors.</summary>
public sealed class LwsCommandLineTests
{
    public static TheoryData<string> Commands => new() { "serve", "scan", "connect", "demo" };

    private static async Task<(int ExitCode, LineWriter Output, LineWriter Errors)> RunAsync(params string[] args)
    {
        var output = new LineWriter();
        var errors = new LineWriter();
        var exitCode = await Lws.RunAsync(args, output, errors, TextReader.Null).Within();
        return (exitCode, output, errors);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Every_command_has_help_that_lists_each_option_it_accepts(string command)
    {
        var (exitCode, output, errors) = await RunAsync(command, "--help");
        var (helpExitCode, help, _) = await RunAsync("help", command);
        var (shortExitCode, shortHelp, _) = await RunAsync(command, "-h");

        Assert.Equal(0, exitCode);
        Assert.Equal(0, helpExitCode);
        Assert.Equal(0, shortExitCode);
        Assert.Empty(errors.Lines.Items);
        Assert.StartsWith($"Usage: lws {command}", output.Lines.Items[0], StringComparison.Ordinal);
        Assert.Equal(output.Text, help.Text);
        Assert.Equal(output.Text, shortHelp.Text);
        var spec = Spec(command);
        foreach (var option in spec.Options)
        {
            Assert.Contains(output.Lines.Items, l => l.StartsWith($"  {option.Name}{(option.Value is null ? "" : " " + option.Value)} ", StringComparison.Ordinal));

            // What the help lists, the parser takes: the flag alone, or the option with a value.
            var parsed = CommandLine.Parse(option.Value is null ? [option.Name] : [option.Name, "x"], spec);
            Assert.True(option.Value is null ? parsed.Has(option.Name) : parsed.Last(option.Name) == "x");
        }
    }

    [Fact]
    public async Task Help_and_version_at_the_top_level()
    {
        var (exitCode, output, _) = await RunAsync("--help");
        var (versionExitCode, version, _) = await RunAsync("--version");
        var (noArgsExitCode, noArgsOutput, noArgsErrors) = await RunAsync();

        Assert.Equal(0, exitCode);
        foreach (var command in new[] { "serve", "scan", "connect", "demo", "help" })
        {
            Assert.Contains(output.Lines.Items, l => l.StartsWith($"  {command} ", StringComparison.Ordinal));
        }

        Assert.Equal(0, versionExitCode);
        var expected = typeof(Lws).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        Assert.Equal($"lws {expected}", Assert.Single(version.Lines.Items));
        Assert.Matches(@"^\d+\.\d+\.\d+", expected);

        // No command is a wrong command line: the overview goes to standard error.
        Assert.Equal(2, noArgsExitCode);
        Assert.Empty(noArgsOutput.Lines.Items);
        Assert.Contains(noArgsErrors.Lines.Items, l => l.StartsWith("Usage: lws COMMAND", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(new[] { "help", "frobnicate" }, "lws: unknown command 'frobnicate'. See 'lws --help'.")]
    [InlineData(new[] { "serve", "--port", "x" }, "lws serve: --port must be a whole number from 0 to 65,535, not 'x'. See 'lws serve --help'.")]
    [InlineData(new[] { "serve", "--echo=yes" }, "lws serve: --echo takes no value. See 'lws serve --help'.")]
    [InlineData(new[] { "scan", "--timeout" }, "lws scan: --timeout needs a value (MS). See 'lws scan --help'.")]
    [InlineData(new[] { "demo", "now" }, "lws demo: unexpected argument 'now'. See 'lws demo --help'.")]
    [InlineData(new[] { "serve", "--keep-alive", "-1" }, "lws serve: --keep-alive takes seconds from 0 to 86,400 (fractions allowed), not '-1'. See 'lws serve --help'.")]
    [InlineData(new[] { "connect", "ws://127.0.0.1:1/ws", "--keep-alive-timeout", "0" }, "lws connect: --keep-alive-timeout takes seconds over 0 to 86,400 (fractions allowed), not '0'. See 'lws connect --help'.")]
    [InlineData(new[] { "connect", "ws://127.0.0.1:1/ws", "--reconnect", "often" }, "lws connect: --reconnect takes jitter, exponential, linear, constant, infinite or none, not 'often'. See 'lws connect --help'.")]
    [InlineData(new[] { "serve", "--host", "127.0.0.1", "--no-mdns", "--interface", "no-such-nic" }, "lws serve: --interface takes an address or the name of an interface of this machine (192.168.1.20, fe80::1%2, eth0), not 'no-such-nic'. See 'lws serve --help'.")]
    public async Task A_wrong_command_line_is_one_clear_line_on_standard_error_and_exit_2(string[] args, string expected)
    {
        var (exitCode, output, errors) = await RunAsync(args);

        Assert.Equal(2, exitCode);
        Assert.Empty(output.Lines.Items);
        Assert.Equal(expected, Assert.Single(errors.Lines.Items));
    }

    [Fact]
    public void Dashes_end_the_options()
    {
        var line = CommandLine.Parse(["--", "--looks-like-an-option"], Spec("scan"));

        Assert.Equal(["--looks-like-an-option"], line.Positional);
    }

    private static CommandSpec Spec(string command) => command switch
    {
        "serve" => ServeCommand.Spec,
        "scan" => ScanCommand.Spec,
        "connect" => ConnectCommand.Spec,
        _ => DemoCommand.Spec,
    };
}

/// <summary>What lws shows on a terminal and nowhere else.</summary>
public sealed class LwsTerminalTests
{
    [Theory]
    [InlineData(true, null, "xterm-256color", true)]
    [InlineData(true, "", "xterm", true)]
    [InlineData(true, "1", "xterm", false)]
    [InlineData(true, null, "dumb", false)]
    [InlineData(false, null, "xterm", false)]
    public void Colours_only_on_a_terminal_that_takes_them_and_never_with_NO_COLOR(bool terminal, string? noColor, string? term, bool expected) =>
        Assert.Equal(expected, CliContext.UsesColor(terminal, noColor, term));

    [Fact]
    public async Task On_a_terminal_scan_shows_its_progress_on_standard_error_and_clears_it_before_each_line()
    {
        await using var server = await TestServers.StartAsync(o => o.Host = "127.0.16.9");
        var output = new LineWriter();
        var errors = new StringWriter();
        var context = new CliContext(output, errors, TextReader.Null, CancellationToken.None) { ShowProgress = true, Color = true };

        var exitCode = await Lws.RunAsync(["scan", "127.0.16", "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-mdns", "--once"], context).Within();

        Assert.Equal(0, exitCode);
        Assert.Contains("added", output.Lines.Items[0], StringComparison.Ordinal);
        Assert.Contains("\e[", output.Lines.Items[0], StringComparison.Ordinal);
        var progress = errors.ToString();
        Assert.Matches(@"scanning 254 hosts on port \d+: \d+ probed, [01] found", progress);
        Assert.EndsWith("\r\e[2K", progress, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_a_terminal_nothing_but_the_lines_themselves()
    {
        await using var server = await TestServers.StartAsync(o => o.Host = "127.0.16.10");
        var output = new LineWriter();
        var errors = new LineWriter();

        Assert.Equal(0, await Lws.RunAsync(["scan", "127.0.16.10", "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-mdns", "--once"], output, errors, TextReader.Null).Within());

        Assert.Empty(errors.Lines.Items);
        Assert.DoesNotContain(output.Lines.Items, l => l.Contains('\e', StringComparison.Ordinal));
    }
}
