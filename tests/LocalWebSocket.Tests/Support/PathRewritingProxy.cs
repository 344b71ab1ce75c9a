using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// A loopback TCP relay that changes the path of each connection's request line (<c>GET / </c> to
/// <c>GET /ws </c>) and then copies bytes both ways untouched: libwebsockets' test client always asks for
/// <c>/</c>, and our server takes WebSockets at <c>/ws</c> only. The frames are the peer's, byte for byte.
/// </summary>
internal sealed class PathRewritingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly string _from;
    private readonly string _to;
    private readonly int _targetPort;

    public PathRewritingProxy(int targetPort, string from, string to)
    {
        (_targetPort, _from, _to) = (targetPort, from, to);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        var relays = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                relays.Add(RelayAsync(client));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(relays);
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var _ = client;
        using var server = new TcpClient();
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            var fromClient = client.GetStream();
            var toServer = server.GetStream();

            // The request line, byte by byte up to its LF (it is short), with its path replaced.
            var line = new List<byte>();
            var one = new byte[1];
            while (line.Count < 8192 && (line.Count == 0 || line[^1] != '\n'))
            {
                if (await fromClient.ReadAsync(one, _stop.Token) == 0)
                {
                    return;
                }

                line.Add(one[0]);
            }

            var requestLine = Encoding.ASCII.GetString([.. line]);
            var prefix = $"GET {_from} ";
            if (requestLine.StartsWith(prefix, StringComparison.Ordinal))
            {
                requestLine = $"GET {_to} " + requestLine[prefix.Length..];
            }

            await toServer.WriteAsync(Encoding.ASCII.GetBytes(requestLine), _stop.Token);
            var up = fromClient.CopyToAsync(toServer, _stop.Token);
            var down = toServer.CopyToAsync(fromClient, _stop.Token);
            await Task.WhenAny(up, down);
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException)
        {
            // Either side went away: the relay ends with it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.WaitAsync(TestServers.Timeout);
        _stop.Dispose();
    }
}
