namespace LocalWebSocket.Client;

/// <summary>
/// Decides whether and when a <see cref="LocalWebSocketClient"/> tries again after its connection was lost.
/// The built-in policies are in <see cref="ReconnectPolicy"/>; a custom one implements this interface.
/// </summary>
/// <remarks>
/// The client never asks after a refusal (HTTP 401/403, close 1008 or 3000) or after
/// <see cref="LocalWebSocketClient.DisconnectAsync(CancellationToken)"/>: those never reconnect by themselves.
/// </remarks>
public interface IReconnectPolicy
{
    /// <summary>The delay before attempt <see cref="ReconnectContext.Attempt"/>, or null to give up.</summary>
    TimeSpan? NextDelay(in ReconnectContext context);

    /// <summary>Called after a reconnect succeeded, with the number of attempts it took.</summary>
    void OnReconnected(int attempts)
    {
    }

    /// <summary>Called when the policy gave up, with the number of attempts made and the last error.</summary>
    void OnGaveUp(int attempts, LocalWebSocketException? lastError)
    {
    }
}
