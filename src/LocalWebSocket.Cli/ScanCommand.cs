using System.Globalization;
using System.Net;
using System.Text.Json;
using LocalWebSocket.Discovery;

namespace LocalWebSocket.Cli;

/// <summary><c>lws scan</c>: finds servers by subnet scan and mDNS, once or live, as a table or JSON lines.</summary>
internal static class ScanCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken stop)
    {
        var line = CommandLine.Parse(args, ["--port", "--interface", "--timeout", "--duration"], ["--mdns", "--no-mdns", "--once", "--json"]);
        if (line.Has("--mdns") && line.Has("--no-mdns"))
        {
            throw new UsageException("--mdns and --no-mdns exclude each other.");
        }

        var options = new DiscoveryOptions { UseMdns = !line.Has("--no-mdns") };
        options.Scanner.Port = line.Int("--port", Server.LocalWebSocketServerOptions.DefaultPort, 1, 65535);
        options.Scanner.ProbeTimeout = TimeSpan.FromMilliseconds(line.Int("--timeout", 1000, 50, 60_000));
        foreach (var text in line.All("--interface"))
        {
            if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new UsageException($"--interface takes an IPv4 address of this machine, not '{text}'.");
            }

            options.MdnsInterfaces.Add(address);
        }

        try
        {
            foreach (var target in line.Positional)
            {
                options.ScanTargets.Add(ScanTarget.Parse(target));
            }
        }
        catch (FormatException exception)
        {
            throw new UsageException(exception.Message);
        }

        // With an interface named and no target, "my network" is that interface's own /24.
        if (options.ScanTargets.Count == 0 && options.MdnsInterfaces.Count > 0)
        {
            foreach (var address in options.MdnsInterfaces)
            {
                options.ScanTargets.Add(ScanTarget.Cidr(address, 24));
            }
        }

        var json = line.Has("--json");
        using var discovery = new ServerDiscovery(options);
        if (line.Has("--once"))
        {
            var servers = await discovery.FindAsync(stop);
            ReportMdnsError(discovery, output, json);
            if (json)
            {
                foreach (var server in servers)
                {
                    output.WriteLine(Json(server, null));
                }
            }
            else
            {
                PrintTable(servers, output);
            }

            return 0;
        }

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var duration = line.Int("--duration", 0, 0, int.MaxValue / 1000);
        if (duration > 0)
        {
            lifetime.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        var log = new Transcript(output);
        if (!json)
        {
            log.Line("scan", $"watching {(options.ScanTargets.Count > 0 ? string.Join(", ", options.ScanTargets) : "this machine's subnets")} on port {options.Scanner.Port}{(options.UseMdns ? " and mDNS" : "")}; Ctrl+C to stop");
        }

        var reported = false;
        try
        {
            await foreach (var round in discovery.WatchAsync(lifetime.Token))
            {
                if (!reported && discovery.MdnsError is not null)
                {
                    reported = true;
                    ReportMdnsError(discovery, output, json);
                }

                foreach (var (kind, servers) in new[] { ("added", round.Added), ("changed", round.Changed), ("removed", round.Removed) })
                {
                    foreach (var server in servers)
                    {
                        if (json)
                        {
                            output.WriteLine(Json(server, kind));
                        }
                        else
                        {
                            log.Line(kind, Describe(server));
                        }
                    }
                }

                // The live table: every server known now, after each change.
                if (!json && round.Added.Count + round.Changed.Count + round.Removed.Count > 0)
                {
                    PrintTable(round.Servers, output);
                }

                output.Flush();
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // Ctrl+C or the duration: a normal end.
        }

        return 0;
    }

    private static void ReportMdnsError(ServerDiscovery discovery, TextWriter output, bool json)
    {
        if (discovery.MdnsError is not { } error)
        {
            return;
        }

        output.WriteLine(json
            ? JsonSerializer.Serialize(new Dictionary<string, string> { ["event"] = "error", ["code"] = error.Code.ToString(), ["message"] = error.Message }, CliJsonContext.Default.DictionaryStringString)
            : $"mDNS unavailable: {error.Message}");
    }

    private static void PrintTable(IReadOnlyList<DiscoveredServer> servers, TextWriter output)
    {
        if (servers.Count == 0)
        {
            output.WriteLine("No servers found.");
            return;
        }

        var urlWidth = Math.Max(3, servers.Max(s => s.Url.ToString().Length));
        output.WriteLine($"{"URL".PadRight(urlWidth)}  {"SOURCE",-9}  {"RTT",8}  DETAILS");
        foreach (var server in servers)
        {
            output.WriteLine($"{server.Url.ToString().PadRight(urlWidth)}  {Source(server.Source),-9}  {Rtt(server),8}  {server.DetailsJson}");
        }
    }

    private static string Describe(DiscoveredServer server) =>
        $"{server.Url}  {Source(server.Source)}  {Rtt(server)}  {server.DetailsJson}{(server.ServiceName is { } name ? $"  \"{name}\"" : "")}";

    private static string Rtt(DiscoveredServer server) =>
        server.RoundTripTime > TimeSpan.Zero ? server.RoundTripTime.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-";

    private static string Source(DiscoverySource source) => source switch
    {
        DiscoverySource.Scan | DiscoverySource.Mdns => "scan,mdns",
        DiscoverySource.Mdns => "mdns",
        _ => "scan",
    };

    /// <summary>One server as one JSON line: url, details, source, rttMs (and the event when watching).</summary>
    private static string Json(DiscoveredServer server, string? kind)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (kind is not null)
            {
                json.WriteString("event", kind);
            }

            json.WriteString("url", server.Url.ToString());
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

/// <summary>Source-generated JSON metadata for the little the tool serialises.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
