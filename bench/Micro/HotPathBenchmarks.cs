using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Internal;
using LocalWebSocket.Protocol;
using LocalWebSocket.Server;

namespace LocalWebSocket.Benchmarks;

/// <summary>The per-connection and per-message hot paths; the allocation column is part of the result.</summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly byte[] UpgradeRequest = Encoding.ASCII.GetBytes(
        "GET /ws?username=alice&device=laptop HTTP/1.1\r\nHost: 192.168.1.20:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: bench\r\n\r\n");

    private static readonly byte[] DetailsBody = Encoding.UTF8.GetBytes(new JsonObject { ["name"] = "Game Room", ["maxPlayers"] = 4 }.ToJsonString());

    private static readonly byte[] MdnsResponse = new DnsMessage
    {
        IsResponse = true,
        Answers = [new PtrRecord("_localws._tcp.local.", 4500, "Room._localws._tcp.local.")],
        Additionals =
        [
            new SrvRecord("Room._localws._tcp.local.", 120, true, 0, 0, 8080, "lws-1.local."),
            new TxtRecord("Room._localws._tcp.local.", 4500, true, ["path=/ws", "v=1"]),
            new AddressRecord("lws-1.local.", 120, true, System.Net.IPAddress.Parse("192.168.1.20")),
        ],
    }.Encode();

    private readonly byte[] _payload = new byte[32];
    private readonly OutgoingMessage[] _batch = new OutgoingMessage[64];
    private readonly ConnectedClient _receiver = Client();
    private readonly FanOutBatch _relayBatch = new();

    private static ConnectedClient Client() => new(
        new LocalWebSocketServer(),
        new LocalWebSocketServerOptions(),
        "bench",
        new Dictionary<string, string>(),
        new Dictionary<string, string>(),
        new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 50000),
        DateTimeOffset.UnixEpoch,
        subProtocol: null);

    /// <summary>Parsing an upgrade request head.</summary>
    [Benchmark]
    public int ParseUpgradeRequest() => HttpHead.ParseRequest(UpgradeRequest, 64).Headers.Count;

    /// <summary>The Sec-WebSocket-Accept value.</summary>
    [Benchmark]
    public string ComputeAccept() => WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ==");

    /// <summary>Decoding the client's details from the query.</summary>
    [Benchmark]
    public Dictionary<string, string> ParseDetails() => QueryString.Parse("username=John+Doe&city=S%C3%A3o+Paulo&device=phone");

    /// <summary>The details document response.</summary>
    [Benchmark]
    public byte[] DetailsResponse() => HttpResponses.Details(DetailsBody, includeBody: true, close: false);

    /// <summary>One relayed message shared by 100 receivers' queues: one copy, reference counts only.</summary>
    [Benchmark]
    public void RouteToHundredQueues()
    {
        var message = OutgoingMessage.Copy(_payload, WebSocketMessageType.Text);
        for (var i = 0; i < 100; i++)
        {
            message.AddReference();
        }

        for (var i = 0; i < 101; i++)
        {
            message.Release();
        }
    }

    /// <summary>
    /// A client's outbox: 64 relayed messages queued for it, then taken by its writer as one batch and released
    /// once written. The receive loop that relayed them would start the writer (its batch); here nobody does.
    /// </summary>
    [Benchmark]
    public int OutboxOfSixtyFour()
    {
        var message = OutgoingMessage.Copy(_payload, WebSocketMessageType.Text);
        for (var i = 0; i < 64; i++)
        {
            _receiver.Enqueue(message, handOverReference: false, _relayBatch);
        }

        message.Release();
        var taken = _receiver.TakeQueued(_batch, out _);
        ConnectedClient.ReleaseTaken(_batch, 0, taken);
        return taken;
    }

    /// <summary>Parsing an mDNS answer with compression.</summary>
    [Benchmark]
    public bool ParseMdnsResponse() => DnsMessage.TryParse(MdnsResponse, out _);
}
