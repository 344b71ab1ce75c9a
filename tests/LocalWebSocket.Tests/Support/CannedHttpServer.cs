using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>Answers every connection's request head with one fixed response (or with silence), for client tests.</summary>
internal sealed class CannedHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public CannedHttpServer(string? response)
    {
        _listener.Start();
        _loop = Task.Run(() => ServeAsync(response));
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Url => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary>The request heads received so far.</summary>
    public List<string> Requests { get; } = [];

    private async Task ServeAsync(string? response)
    {
        var held = new List<TcpClient>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                held.Add(client);
                var stream = client.GetStream();
                var head = new StringBuilder();
                var one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal)
                    && await stream.ReadAsync(one, _stop.Token) == 1)
                {
                    head.Append((char)one[0]);
                }

                lock (Requests)
                {
                    Requests.Add(head.ToString());
                }

                if (response is not null)
                {
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(response), _stop.Token);
                    client.Dispose();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            held.ForEach(c => c.Dispose());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}
