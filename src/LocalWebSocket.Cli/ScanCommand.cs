using System.Globalization;
using System.Net;
using System.Text.Json;
using LocalWebSocket.Discovery;

namespace LocalWebSocket.Cli;

/// <summary><c>lws scan</c>: finds servers by subnet scan and mDNS, once or live, as a table or JSON lines.</summary>
internal static class ScanCommand
{
    public static readonly CommandSpec Spec = new(
        "scan",
        "[PREFIX|CIDR|HOST ...]",
        "Finds servers on the local network by subnet scan and mDNS, once or live.",
        """
        Targets: a.b.c (Dart-style: a.b.c.1 to .254), a.b.c.d/n (n from 20 to 32), or one host; by default
        this machine's own subnets (or the /24 of each --interface). A host is a server when GET / answers
        with a local-websocket Server header and a JSON object, which finds Dart servers too. Each server is
        printed the moment it answers. Without --once, scans again every 3 s until Ctrl+C and reports what
        was added, changed or removed.
        """,
        [
            new("--port", "N", "Port to probe (default 8080)."),
            new("--interface", "IF", "Browse mDNS (IPv4 and IPv6) on this interface, by address or name (eth0), and scan its IPv4\n/24 (repeatable; default: all LAN interfaces)."),
            new("--mdns", null, "Browse mDNS too (the default)."),
            new("--no-mdns", null, "Scan only."),
            new("--once", null, "One pass: print each server as it answers, then a table of all."),
            new("--json", null, "One JSON object per line: {\"event\":\"added\",\"url\":...,\"details\":{...},\"source\":\"scan\",\"rttMs\":0.4}."),
            new("--timeout", "MS", "Probe timeout per host (default 1000)."),
            new("--duration", "SECONDS", "Without --once: stop after SECONDS (default: until Ctrl+C)."),
        ]);

    public static async Task<int> RunAsync(CommandLine line, CliContext context)
    {
        var output = context.Output;
        if (line.Has("--mdns") && line.Has("--no-mdns"))
        {
            throw line.Error("--mdns and --no-mdns exclude each other");
        }

        var options = new DiscoveryOptions { UseMdns = !line.Has("--no-mdns") };
        options.Scanner.Port = line.Int("--port", Server.LocalWebSocketServerOptions.DefaultPort, 1, 65535);
        options.Scanner.ProbeTimeout = TimeSpan.FromMilliseconds(line.Int("--timeout", 1000, 50, 60_000));
        line.Interfaces("--interface").ForEach(options.MdnsInterfaces.Add);

        try
        {
            foreach (var target in line.Positional)
            {
                options.ScanTargets.Add(ScanTarget.Parse(target));
            }
        }
        catch (FormatException exception)
        {
            throw line.Error(exception.Message.TrimEnd('.'));
        }

        // With an interface named and no target, "my network" is that interface's own /24.
        if (options.ScanTargets.Count == 0 && options.MdnsInterfaces.Count > 0)
        {
            // The subnet scan is IPv4: an IPv6 interface is browsed over mDNS only.
            foreach (var address in options.MdnsInterfaces.Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
            {
                options.ScanTargets.Add(ScanTarget.Cidr(address, 24));
            }
        }

        var json = line.Has("--json");
        var duration = line.Int("--duration", 0, 0, int.MaxValue / 1000);
        using var discovery = new ServerDiscovery(options);
        using var progress = new ProgressLine(context.Errors, context.ShowProgress && !json);
        var printed = new Printer(output, progress, json, context.Color);
        if (line.Has("--once"))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            IReadOnlyList<DiscoveredServer> servers = [];
            var scanProgress = new LatestProgress(progress, options.Scanner.Port, options.UseMdns);
            await foreach (var pass in discovery.DiscoverAsync(scanProgress, context.Stop))
            {
                ReportMdnsError(discovery, printed, json);
                printed.Round(pass);
                servers = pass.Servers;
            }

            progress.Clear();
            ReportMdnsError(discovery, printed, json);
            if (!json)
            {
                printed.Line($"{servers.Count} server{(servers.Count == 1 ? "" : "s")} found in {clock.Elapsed.TotalSeconds:0.0} s{(servers.Count == 0 ? "." : ":")}");
                PrintTable(servers, printed);
            }

            return 0;
        }

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.Stop);
        if (duration > 0)
        {
            lifetime.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        if (!json)
        {
            printed.Line($"watching {(options.ScanTargets.Count > 0 ? string.Join(", ", options.ScanTargets) : "this machine's subnets")} on port {options.Scanner.Port}{(options.UseMdns ? " and mDNS" : "")}; Ctrl+C to stop");
        }

        var reported = false;
        try
        {
            await foreach (var round in discovery.WatchAsync(lifetime.Token))
            {
                if (!reported && discovery.MdnsError is not null)
                {
                    reported = true;
                    ReportMdnsError(discovery, printed, json);
                }

                printed.Round(round);

                // The live table: every server known now, after each change.
                if (!json && round.Added.Count + round.Changed.Count + round.Removed.Count > 0)
                {
                    PrintTable(round.Servers, printed);
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // Ctrl+C or the duration: a normal end.
        }

        return 0;
    }

    private static void ReportMdnsError(ServerDiscovery discovery, Printer printed, bool json)
    {
        if (discovery.MdnsError is not { } error || !printed.FirstTime(error))
        {
            return;
        }

        printed.Line(json
            ? JsonSerializer.Serialize(new Dictionary<string, string> { ["event"] = "error", ["code"] = error.Code.ToString(), ["message"] = error.Message }, CliJsonContext.Default.DictionaryStringString)
            : $"mDNS unavailable: {error.Message}");
    }

    private static void PrintTable(IReadOnlyList<DiscoveredServer> servers, Printer printed)
    {
        if (servers.Count == 0)
        {
            return;
        }

        var urlWidth = Math.Max(3, servers.Max(s => s.Url.ToString().Length));
        printed.Line($"{"URL".PadRight(urlWidth)}  {"SOURCE",-9}  {"RTT",8}  DETAILS");
        foreach (var server in servers)
        {
            printed.Line($"{CommandLine.UrlText(server.Url).PadRight(urlWidth)}  {Source(server.Source),-9}  {Rtt(server),8}  {server.DetailsJson}");
        }
    }

    internal static string Describe(DiscoveredServer server) =>
        $"{CommandLine.UrlText(server.Url)}  {Source(server.Source)}  {Rtt(server)}  {server.DetailsJson}{(server.ServiceName is { } name ? $"  \"{name}\"" : "")}";

    private static string Rtt(DiscoveredServer server) =>
        server.RoundTripTime > TimeSpan.Zero ? server.RoundTripTime.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-";

    private static string Source(DiscoverySource source) => source switch
    {
        DiscoverySource.Scan | DiscoverySource.Mdns => "scan,mdns",
        DiscoverySource.Mdns => "mdns",
        _ => "scan",
    };

    /// <summary>One server as one JSON line: the event (added, changed, removed), url, details, source, rttMs.</summary>
    internal static string JsonLine(DiscoveredServer server, string kind)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("event", kind);

            json.WriteString("url", CommandLine.UrlText(server.Url));
            json.WritePropertyName("details");
            server.Details.WriteTo(json);
            json.WriteString("source", Source(server.Source));
            json.WriteNumber("rttMs", Math.Round(server.RoundTripTime.TotalMilliseconds, 1));
            if (server.ServiceName is { } name)
            {
                json.WriteString("serviceName", name);
            }

            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>
/// The scan's output: lines from the command's own loop (never from a socket's thread, so writing them at once
/// holds nothing up), with the progress line on standard error cleared before each and drawn again after it.
/// </summary>
internal sealed class Printer(TextWriter output, ProgressLine progress, bool json, bool color)
{
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);

    public void Line(string text) => progress.Around(() =>
    {
        output.WriteLine(text);
        output.Flush();
    });

    /// <summary>Whether this error has not been printed yet.</summary>
    public bool FirstTime(LocalWebSocketException error) => _reported.Add(error.Message);

    /// <summary>Prints what a round or a pass added, changed or removed.</summary>
    public void Round(DiscoverySnapshot round)
    {
        foreach (var (kind, servers) in new[] { ("added", round.Added), ("changed", round.Changed), ("removed", round.Removed) })
        {
            foreach (var server in servers)
            {
                Line(json ? ScanCommand.JsonLine(server, kind) : $"{(color ? Ansi.Label(kind) : "")}{kind,-7}{(color ? Ansi.Reset : "")} {ScanCommand.Describe(server)}");
            }
        }
    }
}

/// <summary>
/// One line on standard error that says how far a long wait is, rewritten in place; only on a terminal
/// (elsewhere it writes nothing), and cleared before other output so the two never mix.
/// </summary>
internal sealed class ProgressLine : IDisposable
{
    private readonly TextWriter _errors;
    private readonly bool _enabled;
    private readonly Lock _gate = new();
    private readonly Timer? _redraw;
    private Func<string>? _text;
    private bool _shown;

    public ProgressLine(TextWriter errors, bool enabled)
    {
        _errors = errors;
        _enabled = enabled;
        _redraw = enabled ? new Timer(_ => Draw(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100)) : null;
    }

    /// <summary>What the line says, asked for at each redraw.</summary>
    public void Show(Func<string> text)
    {
        lock (_gate)
        {
            _text = text;
        }
    }

    /// <summary>Runs <paramref name="write"/> with the line cleared, then draws the line again.</summary>
    public void Around(Action write)
    {
        lock (_gate)
        {
            ClearLocked();
            write();
            DrawLocked();
        }
    }

    /// <summary>Removes the line for good.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _text = null;
            ClearLocked();
        }
    }

    public void Dispose()
    {
        _redraw?.Dispose();
        Clear();
    }

    private void Draw()
    {
        lock (_gate)
        {
            DrawLocked();
        }
    }

    private void DrawLocked()
    {
        if (!_enabled || _text is null)
        {
            return;
        }

        _errors.Write($"\r\e[2K{Ansi.Dim}{_text()}{Ansi.Reset}");
        _errors.Flush();
        _shown = true;
    }

    private void ClearLocked()
    {
        if (_shown)
        {
            _errors.Write("\r\e[2K");
            _errors.Flush();
            _shown = false;
        }
    }
}

/// <summary>Keeps the scan's latest progress for the progress line, which reads it at each redraw.</summary>
internal sealed class LatestProgress : IProgress<ScanProgress>
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private ScanProgress _latest;

    public LatestProgress(ProgressLine line, int port, bool mdns) => line.Show(() =>
    {
        ScanProgress latest;
        lock (_gate)
        {
            latest = _latest;
        }

        return $"scanning {latest.HostCount} hosts on port {port}{(mdns ? " and listening to mDNS" : "")}: "
            + $"{latest.HostsProbed} probed, {latest.ServersFound} found, {_clock.Elapsed.TotalSeconds:0.0} s";
    });

    public void Report(ScanProgress value)
    {
        lock (_gate)
        {
            _latest = value;
        }
    }
}

/// <summary>Source-generated JSON metadata for the little the tool serialises.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
