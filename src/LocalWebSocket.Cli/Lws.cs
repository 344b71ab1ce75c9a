namespace LocalWebSocket.Cli;

/// <summary>The <c>lws</c> tool: serve, connect and demo.</summary>
internal static class Lws
{
    public const string Usage = """
        lws: local-network WebSockets (server, client, demo)

        Usage:
          lws serve [--host ADDR] [--port N] [--echo] [--detail key=value ...] [--token T ...]
                    [--tls | --cert FILE [--cert-password P]] [--max-clients N] [--rate N/s]
                    [--no-mdns] [--interface ADDR ...] [--duration SECONDS]
                    [--max-connections N] [--max-per-ip N] [--handshakes-per-ip N] [--quiet]
              Runs a server and logs connections and messages until Ctrl+C (or for SECONDS);
              --quiet logs only the start and the final counts, no line per join, message or leave.
              Defaults: --host 0.0.0.0 --port 8080, broadcast mode. --token requires ?token=T from clients.
              Advertises over mDNS (_localws._tcp) on the listen address, or on --interface ADDR, unless --no-mdns.
              --tls serves wss:// with a self-signed certificate kept in your data folder and prints its
              fingerprint; --cert uses a PFX or PEM file. --max-clients refuses clients beyond N (close 1008);
              --rate drops each client's messages beyond N per second.
          lws scan [PREFIX|CIDR|HOST ...] [--port N] [--interface ADDR] [--mdns|--no-mdns] [--once] [--json]
                   [--timeout MS] [--duration SECONDS]
              Finds servers by probing GET / on every host (a.b.c, a.b.c.d/n, or a host; default: this
              machine's subnets, or the --interface's /24) and by mDNS on --interface (default: all).
              --once does one pass and prints a table; --json prints one object per server and line
              (url, details, source, rttMs). Without --once it watches until Ctrl+C (or for SECONDS).
          lws connect URL [--detail key=value ...] [--reconnect POLICY] [--json] [--pin SHA256]
              Connects to ws://host:port/ws; lines you type are sent, messages and state changes are printed.
              POLICY: jitter (default), exponential, linear, constant, infinite or none.
              --json prints one JSON object per event and line, e.g. {"event":"state","state":"connected"},
              {"event":"message","type":"text","text":"hi"} (binary as base64), {"event":"error",...}.
              Ends at end of input, or when the client is refused or gives up. For wss:// with a self-signed
              certificate, --pin takes the fingerprint the server printed.
          lws demo
              Starts a server on loopback, connects two clients and shows them talking.

        Exit codes: 0 success, 1 failure, 2 wrong command line.
        """;

    /// <summary>Runs one command; <paramref name="cancellationToken"/> stops it as Ctrl+C does.</summary>
    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter errors, TextReader input, CancellationToken cancellationToken = default)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            output.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
        try
        {
            var rest = args.AsSpan(1).ToArray();
            return args[0] switch
            {
                "serve" => await ServeCommand.RunAsync(rest, output, stop.Token),
                "connect" => await ConnectCommand.RunAsync(rest, output, input, stop.Token),
                "demo" => await DemoCommand.RunAsync(rest, output, stop.Token),
                "scan" => await ScanCommand.RunAsync(rest, output, stop.Token),
                _ => throw new UsageException($"Unknown command '{args[0]}'."),
            };
        }
        catch (UsageException exception)
        {
            errors.WriteLine($"lws: {exception.Message}");
            errors.WriteLine("Run 'lws --help' for usage.");
            return 2;
        }
        catch (LocalWebSocketException exception)
        {
            errors.WriteLine($"lws: {exception.Code}: {exception.Message}{(exception.StatusCode is { } status ? $" (HTTP {status})" : "")}");
            return 1;
        }
        catch (System.Net.Sockets.SocketException exception)
        {
            errors.WriteLine($"lws: {exception.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
