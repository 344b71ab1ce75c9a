using System.Buffers;
using System.Net;
using System.Net.Sockets;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;

namespace LocalWebSocket.Server;

/// <summary>
/// An upgrade request our own HTTP handshake read (from a socket of our listener, or a stream a transport handed
/// to <see cref="LocalWebSocketServer.AcceptConnectionAsync"/>): the 101 and refusals are written as bytes on the
/// connection itself.
/// </summary>
internal sealed class ListenerUpgrade : WebSocketUpgradeRequest
{
    private readonly ServerHandshake _handshake;
    private readonly HttpHead _head;
    private readonly ServerConnectionStream _stream;
    private readonly Socket? _socket;

    public ListenerUpgrade(ServerHandshake handshake, HttpHead head, ServerConnectionStream stream, Socket? socket, IPEndPoint remoteEndPoint)
        : base(head.Method, head.MinorVersion == 1, head.Query, head.Headers, remoteEndPoint)
    {
        _handshake = handshake;
        _head = head;
        _stream = stream;
        _socket = socket;
    }

    protected internal override async ValueTask<Stream> AcceptAsync(string? subProtocol, string? extensions, CancellationToken cancellationToken)
    {
        _head.TryGetHeader("Sec-WebSocket-Key", out var key);
        var response = ArrayPool<byte>.Shared.Rent(HttpResponses.SwitchingProtocolsMaxLength(subProtocol, extensions));
        try
        {
            var length = HttpResponses.WriteSwitchingProtocols(response, key!, subProtocol, extensions);
            await _stream.WriteAsync(response.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(response);
        }

        return _stream;
    }

    protected internal override ValueTask RejectAsync(
        int statusCode, string contentType, string body, KeyValuePair<string, string>? header, CancellationToken cancellationToken) =>
        new(_handshake.RejectAsync(_stream, _socket, HttpResponses.Error(new HandshakeRefusal(statusCode, contentType, body, header)), cancellationToken));
}
