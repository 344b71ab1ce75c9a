using System.Net.WebSockets;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Tests.Protocol;

public sealed class MessageAssemblerTests
{
    /// <summary>A client's frame (masked, as RFC 6455 requires), as a server reads it.</summary>
    private static byte[] MaskedFrame(byte[] payload, bool final, byte opcode)
    {
        var header = new List<byte> { (byte)((final ? 0x80 : 0) | opcode) };
        if (payload.Length < 126)
        {
            header.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            header.Add(0x80 | 127);
            header.AddRange(BitConverter.GetBytes((ulong)payload.Length).Reverse());
        }

        byte[] mask = [0x37, 0xfa, 0x21, 0x3d];
        header.AddRange(mask);
        return [.. header, .. payload.Select((b, i) => (byte)(b ^ mask[i % 4]))];
    }

    /// <summary>What a server's receive loop does: waits for the frame with a zero-byte receive, then assembles.</summary>
    private static async Task<AssembledMessage> AssembleAsync(byte[] wire, int maxSize)
    {
        using var webSocket = WebSocket.CreateFromStream(new MemoryStream(wire), new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        var first = await webSocket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
        return await MessageAssembler.ReceiveAsync(webSocket, first, ReadOnlyMemory<byte>.Empty, maxSize, CancellationToken.None);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    [InlineData(2048)]
    public async Task A_small_message_gets_a_buffer_of_about_its_size(int size)
    {
        var payload = Enumerable.Range(0, size).Select(i => (byte)i).ToArray();

        var message = await AssembleAsync(MaskedFrame(payload, final: true, opcode: 2), maxSize: 1 << 20);

        Assert.Equal(AssemblyOutcome.Complete, message.Outcome);
        Assert.Equal(WebSocketMessageType.Binary, message.Type);
        Assert.Equal(payload, message.Buffer.AsSpan(0, message.Length).ToArray());

        // A burst of small messages queued at once must not hold a buffer of the initial size each.
        Assert.True(message.Buffer!.Length < MessageAssembler.InitialBufferSize, $"{message.Buffer.Length} bytes held for {size}");
    }

    [Theory]
    [InlineData(3000)]
    [InlineData(100_000)]
    public async Task A_larger_message_keeps_the_buffer_it_was_read_into(int size)
    {
        var payload = Enumerable.Range(0, size).Select(i => (byte)('a' + (i % 26))).ToArray();

        var message = await AssembleAsync(MaskedFrame(payload, final: true, opcode: 1), maxSize: 1 << 20);

        Assert.Equal(AssemblyOutcome.Complete, message.Outcome);
        Assert.Equal(WebSocketMessageType.Text, message.Type);
        Assert.Equal(payload, message.Buffer.AsSpan(0, message.Length).ToArray());
        Assert.True(message.Buffer!.Length < 2 * Math.Max(size, MessageAssembler.InitialBufferSize) + 1);
    }

    [Fact]
    public async Task A_fragmented_small_message_is_whole_in_a_buffer_of_about_its_size()
    {
        byte[] wire = [.. MaskedFrame("ab"u8.ToArray(), final: false, opcode: 1), .. MaskedFrame("cd"u8.ToArray(), final: true, opcode: 0)];

        var message = await AssembleAsync(wire, maxSize: 1 << 20);

        Assert.Equal("abcd"u8.ToArray(), message.Buffer.AsSpan(0, message.Length).ToArray());
        Assert.True(message.Buffer!.Length < MessageAssembler.InitialBufferSize);
    }

    [Fact]
    public async Task A_message_over_the_limit_is_too_large()
    {
        var message = await AssembleAsync(MaskedFrame(new byte[5000], final: true, opcode: 2), maxSize: 4999);

        Assert.Equal(AssemblyOutcome.TooLarge, message.Outcome);
        Assert.Null(message.Buffer);
    }
}
