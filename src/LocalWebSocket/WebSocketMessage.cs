using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LocalWebSocket;

/// <summary>
/// One whole WebSocket message, text or binary, exactly as it travels: there is no envelope. JSON is
/// sent as text, so JSON helpers read and write text messages.
/// </summary>
/// <remarks>Instances are immutable and own their data; they are safe to keep and share across threads.</remarks>
public sealed class WebSocketMessage
{
    private string? _text;

    private WebSocketMessage(WebSocketMessageType type, ReadOnlyMemory<byte> data, string? text)
    {
        Type = type;
        Data = data;
        _text = text;
    }

    /// <summary><see cref="WebSocketMessageType.Text"/> or <see cref="WebSocketMessageType.Binary"/>.</summary>
    public WebSocketMessageType Type { get; }

    /// <summary>Whether this is a text message.</summary>
    public bool IsText => Type == WebSocketMessageType.Text;

    /// <summary>Whether this is a binary message.</summary>
    public bool IsBinary => Type == WebSocketMessageType.Binary;

    /// <summary>The payload: UTF-8 for text messages.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The payload decoded as UTF-8 (text messages are valid UTF-8 by protocol).</summary>
    public string Text => _text ??= Encoding.UTF8.GetString(Data.Span);

    /// <summary>A text message.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static WebSocketMessage FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(WebSocketMessageType.Text, Encoding.UTF8.GetBytes(text), text);
    }

    /// <summary>A binary message holding a copy of <paramref name="data"/>.</summary>
    public static WebSocketMessage FromBytes(ReadOnlySpan<byte> data) =>
        new(WebSocketMessageType.Binary, data.ToArray(), null);

    /// <summary>A text message holding <paramref name="value"/> as JSON, with source-generated metadata.</summary>
    public static WebSocketMessage FromJson<T>(T value, JsonTypeInfo<T> jsonTypeInfo) =>
        new(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, jsonTypeInfo), null);

    /// <summary>A text message holding <paramref name="value"/> as JSON, serialised by reflection.</summary>
    [RequiresUnreferencedCode("JSON serialisation by reflection; use the JsonTypeInfo overload for trimming.")]
    [RequiresDynamicCode("JSON serialisation by reflection; use the JsonTypeInfo overload for native AOT.")]
    public static WebSocketMessage FromJson<T>(T value, JsonSerializerOptions? options = null) =>
        new(WebSocketMessageType.Text, JsonSerializer.SerializeToUtf8Bytes(value, options), null);

    /// <summary>Wraps bytes the caller hands over and will not change again (no copy).</summary>
    internal static WebSocketMessage FromOwned(WebSocketMessageType type, byte[] data) => new(type, data, null);

    /// <summary>Deserialises the payload as JSON, with source-generated metadata.</summary>
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    public T? ReadJson<T>(JsonTypeInfo<T> jsonTypeInfo) => JsonSerializer.Deserialize(Data.Span, jsonTypeInfo);

    /// <summary>Deserialises the payload as JSON, by reflection.</summary>
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    [RequiresUnreferencedCode("JSON deserialisation by reflection; use the JsonTypeInfo overload for trimming.")]
    [RequiresDynamicCode("JSON deserialisation by reflection; use the JsonTypeInfo overload for native AOT.")]
    public T? ReadJson<T>(JsonSerializerOptions? options = null) => JsonSerializer.Deserialize<T>(Data.Span, options);

    /// <summary>A copy of the payload.</summary>
    public byte[] ToArray() => Data.ToArray();

    /// <summary>The text of a text message; a short description of a binary one.</summary>
    public override string ToString() => IsText ? Text : $"[binary, {Data.Length} bytes]";
}
