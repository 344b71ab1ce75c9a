namespace LocalWebSocket.Server;

/// <summary>Where the server relays a message that a client sent.</summary>
public enum RoutingMode
{
    /// <summary>To every other client; the sender does not get its own message (Dart <c>echo: false</c>).</summary>
    Broadcast,

    /// <summary>To every client, the sender included (Dart <c>echo: true</c>).</summary>
    Echo,

    /// <summary>Nowhere: the application reads messages from the server's events and decides.</summary>
    None,
}
