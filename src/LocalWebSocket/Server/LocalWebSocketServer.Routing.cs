using System.Buffers;
using System.Net.WebSockets;
using LocalWebSocket.Internal;
using Microsoft.Extensions.Logging;

namespace LocalWebSocket.Server;

public sealed partial class LocalWebSocketServer
{
    /// <summary>
    /// The clients now, in the order they joined. The array is shared and never changed; it is made again
    /// only when it is asked for after a join or a leave, so a storm of connections does not copy the list
    /// once per connection.
    /// </summary>
    private ConnectedClient[] ClientSnapshot()
    {
        if (Volatile.Read(ref _clientSnapshot) is { } snapshot)
        {
            return snapshot;
        }

        lock (_clientsGate)
        {
            snapshot = _clientSnapshot ?? [.. _clientsInOrder];
            Volatile.Write(ref _clientSnapshot, snapshot);
            return snapshot;
        }
    }

    private bool TryJoin(ConnectedClient client)
    {
        lock (_clientsGate)
        {
            if (!_acceptingClients)
            {
                return false;
            }

            _clients.Add(client.Id, client);
            _clientsInOrder.Add(client);
            Volatile.Write(ref _clientSnapshot, null);
        }

        Counters.CountJoined();
        Logger.ClientJoined(client.Id, client.RemoteEndPoint);

        if (_options.LifecycleHandler is { } lifecycle)
        {
            QueueConnectedHook(lifecycle, client);
        }

        if (ClientConnected is not null || _connections.HasSubscribers)
        {
            var connected = new ClientConnectedEventArgs(client);
            _connections.Publish(connected);
            Raise(ClientConnected, connected);
        }

        PublishClientsChanged();
        return true;
    }

    // Its own method: the lambda's closure would otherwise be made on every join, handler or not.
    private static void QueueConnectedHook(Security.IClientLifecycleHandler lifecycle, ConnectedClient client) =>
        client.QueueHook("connected", token => lifecycle.OnConnectedAsync(client, token));

    /// <summary>Called once per client when its connection has ended and been released.</summary>
    internal void OnClientLeft(ConnectedClient client, WebSocketCloseStatus? status, string? description, Exception? error)
    {
        lock (_clientsGate)
        {
            if (!_clients.Remove(client.Id))
            {
                // Never joined (refused during a stop): nobody saw it arrive, so nobody hears it leave.
                return;
            }

            _clientsInOrder.Remove(client);
            Volatile.Write(ref _clientSnapshot, null);
        }

        if (Logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: the status is formatted even when nothing is logged.
            Logger.ClientLeft(client.Id, status?.ToString() ?? "no close frame");
        }

        var disconnected = new ClientDisconnectedEventArgs(client, status, description, error);
        if (_options.LifecycleHandler is { } lifecycle)
        {
            client.QueueHook("disconnected", token => lifecycle.OnDisconnectedAsync(disconnected, token));
        }

        _disconnections.Publish(disconnected);
        Raise(ClientDisconnected, disconnected);
        PublishClientsChanged();
    }

    private void PublishClientsChanged()
    {
        if (ClientsChanged is null && !_clientsChanges.HasSubscribers)
        {
            return;
        }

        var changed = new ClientsChangedEventArgs(Array.AsReadOnly(ClientSnapshot()));
        _clientsChanges.Publish(changed);
        Raise(ClientsChanged, changed);
    }

    /// <summary>
    /// Relays a whole message and raises it to the application. Takes ownership of the pooled
    /// <paramref name="buffer"/>: the receivers' queues share it, and the last one returns it to the pool.
    /// The writers it wakes join <paramref name="batch"/>, which the sender's receive loop starts.
    /// </summary>
    internal ValueTask OnMessageReceivedAsync(ConnectedClient sender, FanOutBatch batch, WebSocketMessageType type, byte[] buffer, int length)
    {
        sender.CountReceived(length);
        sender.MarkReceived();
        if (!sender.IsConnected)
        {
            // It is closing: what it still sends is not relayed.
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.CompletedTask;
        }

        if (_options.MessageValidator is { } validator)
        {
            return ValidateThenRouteAsync(validator, sender, batch, type, buffer, length);
        }

        Route(sender, batch, type, buffer, length);
        return ValueTask.CompletedTask;
    }

    private async ValueTask ValidateThenRouteAsync(
        Security.IMessageValidator validator, ConnectedClient sender, FanOutBatch batch, WebSocketMessageType type, byte[] buffer, int length)
    {
        Security.MessageVerdict verdict;
        try
        {
            var judging = validator.ValidateAsync(sender, new Security.IncomingMessage(type, buffer.AsMemory(0, length)), sender.ConnectionAborted);
            if (!judging.IsCompleted)
            {
                // The validator waits (a look-up, a remote check): what the loop routed before need not wait with it.
                batch.Start();
            }

            verdict = await judging.ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Logger.MessageValidatorThrew(exception);
            verdict = Security.MessageVerdict.Drop;
        }

        if (verdict == Security.MessageVerdict.Accept)
        {
            Route(sender, batch, type, buffer, length);
            return;
        }

        ArrayPool<byte>.Shared.Return(buffer);
        Counters.CountMessageRejected();
        if (verdict == Security.MessageVerdict.Close)
        {
            sender.RequestClose(WebSocketCloseStatus.PolicyViolation, "Message rejected", discardQueued: true);
        }
    }

    private void Route(ConnectedClient sender, FanOutBatch batch, WebSocketMessageType type, byte[] buffer, int length)
    {
        MessageReceivedEventArgs? received = null;
        if (MessageReceived is not null || _messages.HasSubscribers)
        {
            // The application may keep the message: it gets its own copy, never the pooled buffer, made before
            // the buffer goes to the queues (a writer may send it and return it to the pool at once). A handler
            // that reads the statistics finds its message counted.
            sender.FlushReceivedCount();
            received = new MessageReceivedEventArgs(sender, WebSocketMessage.FromOwned(type, buffer.AsSpan(0, length).ToArray()));
        }

        var outgoing = OutgoingMessage.FromRented(buffer, length, type);
        try
        {
            var routing = _options.Routing;
            if (routing != RoutingMode.None)
            {
                // Only a sender with more than its share in flight looks for a congested receiver: a sender at a
                // human or a game's pace costs the router one read (see ConnectedClient.Backpressure.cs).
                var mayPause = sender.CountRelayed(outgoing);
                batch.CountMessage(length);
                // Every queue adds its own reference, and this one, made with the message, is held until the last
                // queue has it: handed to the first queue, that queue's writer (running on another thread) could
                // send the message and return its buffer to the pool while it is still being queued elsewhere,
                // and the pool would then hand the same buffer to two messages.
                ConnectedClient? firstCongested = null;
                foreach (var client in ClientSnapshot())
                {
                    if ((routing == RoutingMode.Echo || !ReferenceEquals(client, sender))
                        && client.Enqueue(outgoing, handOverReference: false, batch))
                    {
                        if (mayPause && firstCongested is null && client.IsCongestedForRelay)
                        {
                            firstCongested = client;
                        }
                    }
                }

                // A receiver is behind, and behind this sender: it waits before its next message is read.
                if (firstCongested is not null)
                {
                    sender.PauseRelayingFor(firstCongested);
                }
            }
        }
        finally
        {
            outgoing.Release();
        }

        if (received is not null)
        {
            _messages.Publish(received);
            Raise(MessageReceived, received);
        }
    }
}
