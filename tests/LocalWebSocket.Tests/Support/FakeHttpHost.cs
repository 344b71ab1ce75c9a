using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// A loopback host that answers every request with fixed bytes, then optionally trickles more, or never
/// answers at all: the non-servers a scanner must reject.
/// </summary>
internal sealed class FakeHttpHost : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeHttpHost(IPAddress address, int port, string? response, string? trickle = null)
    {
        _listener = new TcpListener(address, port);
        _listener.Start();
        _loop = Task.Run(() => ServeAsync(response, trickle));
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task ServeAsync(string? response, string? trickle)
    {
        var held = new List<TcpClient>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                held.Add(client);
                _ = AnswerAsync(client, response, trickle);
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

    private async Task AnswerAsync(TcpClient client, string? response, string? trickle)
    {
        try
        {
            var stream = client.GetStream();
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one, _stop.Token) == 1)
            {
                head.Append((char)one[0]);
            }

            if (response is null)
            {
                return;
            }

            await stream.WriteAsync(Encoding.UTF8.GetBytes(response), _stop.Token);
            foreach (var c in trickle ?? "")
            {
                await Task.Delay(200, _stop.Token);
                await stream.WriteAsync(new[] { (byte)c }, _stop.Token);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
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
