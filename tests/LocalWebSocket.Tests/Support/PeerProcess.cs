using System.Diagnostics;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// Runs the independent peers in <c>tests/peers</c> (Python websockets and autobahn from Debian, Node ws
/// from npm), which <c>./test.sh</c> installs. Every peer process is bounded in time and killed with its test.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    /// <summary>Debian's Python, which sees python3-websockets and python3-autobahn (the pyenv one on PATH does not).</summary>
    public const string Python = "/usr/bin/python3";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly Probe<string> _lines = new();

    private PeerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(e.Data);
            }

            _lines.Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_errors)
            {
                _errors.AppendLine(e.Data);
            }
        };
    }

    public static string PeersDirectory { get; } = FindPeersDirectory();

    /// <summary>The lws tool as built in its own project's output, started the way a user runs it.</summary>
    /// <remarks>
    /// Not the copy next to the tests: this test project also references ASP.NET Core, whose shared framework
    /// then stands in for packages (logging abstractions) that the tool, a plain console app, needs beside it.
    /// </remarks>
    public static string LwsDll { get; } = BuiltProgram("src/LocalWebSocket.Cli", "lws.dll");

    /// <summary>
    /// A program as its project built it (<c>project/bin/Debug/net10.0/program.dll</c>), in the tests' own
    /// configuration and target framework.
    /// </summary>
    public static string BuiltProgram(string project, string dll)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(Path.GetDirectoryName(PeersDirectory)!, "..", project, "bin", output.Parent!.Name, output.Name, dll);
        return File.Exists(path) ? Path.GetFullPath(path) : throw new InvalidOperationException($"{path} is not built: build the solution first.");
    }

    /// <summary>The program's standard input, when it was started with it redirected.</summary>
    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>When each line of standard output arrived.</summary>
    public Probe<string> Lines => _lines;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    public static PeerProcess Start(string program, params string[] arguments)
    {
        if (program == Python && !File.Exists(Python))
        {
            throw new InvalidOperationException($"{Python} is missing: run tests/peers/install.sh (test.sh runs it), which installs the test peers.");
        }

        if (program == "node" && !Directory.Exists(Path.Combine(PeersDirectory, "node_modules", "ws")))
        {
            throw new InvalidOperationException("npm package ws is missing in tests/peers: run tests/peers/install.sh (test.sh runs it), which installs it.");
        }

        return StartRaw(program, arguments);
    }

    /// <summary>Starts any program, in the peers folder, with its output captured.</summary>
    public static PeerProcess StartRaw(string program, params string[] arguments) => StartRaw(program, redirectInput: false, arguments);

    /// <summary>Starts any program, in the peers folder, with its output captured and, if asked, its input ours to write.</summary>
    public static PeerProcess StartRaw(string program, bool redirectInput, params string[] arguments)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = PeersDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        var peer = new PeerProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Runs a peer to its end (at most the test timeout) and returns its exit code.</summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(string program, params string[] arguments)
    {
        await using var peer = Start(program, arguments);
        var exitCode = await peer.WaitForExitAsync();
        return (exitCode, peer.Output, peer.Errors);
    }

    public async Task<int> WaitForExitAsync()
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TestServers.Timeout * 2);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Peer did not finish. Output:\n{Output}\nErrors:\n{Errors}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits for a line starting with <paramref name="prefix"/> and returns it.</summary>
    public async Task<string> WaitForLineAsync(string prefix)
    {
        try
        {
            await _lines.WaitUntilAsync(lines => lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal)));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Peer never printed '{prefix}'. Output:\n{Output}\nErrors:\n{Errors}");
        }

        return _lines.Items.First(l => l.StartsWith(prefix, StringComparison.Ordinal));
    }

    /// <summary>Waits for a line containing <paramref name="text"/> and returns it.</summary>
    public async Task<string> WaitForLineContainingAsync(string text, TimeSpan? timeout = null)
    {
        try
        {
            await _lines.WaitUntilAsync(lines => lines.Any(l => l.Contains(text, StringComparison.Ordinal)), timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Peer never printed '{text}'. Output:\n{Output}\nErrors:\n{Errors}");
        }

        return _lines.Items.First(l => l.Contains(text, StringComparison.Ordinal));
    }

    /// <summary>Every line starting with <paramref name="prefix"/> so far.</summary>
    public IReadOnlyList<string> LinesStartingWith(string prefix) =>
        _lines.Items.Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TestServers.Timeout);
        }

        _process.Dispose();
    }

    private static string FindPeersDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "peers");
            if (File.Exists(Path.Combine(directory.FullName, "LocalWebSocket.slnx")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/peers not found above " + AppContext.BaseDirectory);
    }
}
