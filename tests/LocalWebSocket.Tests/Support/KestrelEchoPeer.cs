using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// An ASP.NET Core Kestrel WebSocket server that is not our hub (UseWebSockets and a handler), playing the
/// interop matrix's echo server: the same requests and printed lines as <c>tests/peers/interop_py.py</c>.
/// </summary>
internal sealed class KestrelEchoPeer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelEchoPeer(WebApplication app) => _app = app;

    /// <summary>What the server saw: <c>EXT ...</c> per connection, <c>CLOSED code reason</c> per close.</summary>
    public Probe<string> Lines { get; } = new();

    public int Port { get; private set; }

    public static async Task<KestrelEchoPeer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var peer = new KestrelEchoPeer(app);
        app.UseWebSockets();
        app.Map("/ws", peer.ServeAsync);
        await app.StartAsync().WaitAsync(TestServers.Timeout);
        peer.Port = new Uri(app.Urls.First()).Port;
        return peer;
    }

    private async Task ServeAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        var offered = context.Request.Headers.SecWebSocketExtensions.ToString().Contains("permessage-deflate", StringComparison.Ordinal);
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = offered });
        Lines.Add("EXT " + (offered ? context.Response.Headers.SecWebSocketExtensions.ToString() : "none"));
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        using var lifetime = new CancellationTokenSource(TestServers.Timeout * 4);
        while (socket.State == WebSocketState.Open)
        {
            message.SetLength(0);
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(), lifetime.Token);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                Lines.Add($"CLOSED {(int?)socket.CloseStatus} {socket.CloseStatusDescription}");
                if (socket.State == WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, socket.CloseStatusDescription, lifetime.Token);
                }

                return;
            }

            var text = result.MessageType == WebSocketMessageType.Text ? System.Text.Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length) : null;
            if (text == "fragment please")
            {
                foreach (var (part, last) in new[] { ("fragmented", false), (" reply", false), (" ✓", true) })
                {
                    await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(part), WebSocketMessageType.Text, last, lifetime.Token);
                }
            }
            else if (text?.StartsWith("close ", StringComparison.Ordinal) == true)
            {
                var parts = text.Split(' ', 3);
                await socket.CloseAsync((WebSocketCloseStatus)int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2], lifetime.Token);
                Lines.Add($"CLOSED {(int?)socket.CloseStatus} {socket.CloseStatusDescription}");
                return;
            }
            else
            {
                await socket.SendAsync(message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, true, lifetime.Token);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TestServers.Timeout);
        await _app.DisposeAsync();
    }
}
