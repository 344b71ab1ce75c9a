namespace LocalWebSocket.Client;

/// <summary>Limits for any reconnect policy.</summary>
public static class ReconnectPolicyExtensions
{
    /// <summary>Gives up after <paramref name="maxAttempts"/> failed attempts.</summary>
    public static IReconnectPolicy WithMaxAttempts(this IReconnectPolicy policy, int maxAttempts)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        return new LimitedReconnectPolicy(policy, maxAttempts, null);
    }

    /// <summary>
    /// Gives up once <paramref name="deadline"/> has passed since the connection was lost, or would pass
    /// during the next delay.
    /// </summary>
    public static IReconnectPolicy WithGiveUpAfter(this IReconnectPolicy policy, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (deadline <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "The deadline must be positive.");
        }

        return new LimitedReconnectPolicy(policy, null, deadline);
    }

    private sealed class LimitedReconnectPolicy(IReconnectPolicy inner, int? maxAttempts, TimeSpan? deadline) : IReconnectPolicy
    {
        public TimeSpan? NextDelay(in ReconnectContext context)
        {
            if (context.Attempt > maxAttempts)
            {
                return null;
            }

            var delay = inner.NextDelay(context);
            return delay is { } wait && context.SinceDisconnected + wait > deadline ? null : delay;
        }

        public void OnReconnected(int attempts) => inner.OnReconnected(attempts);

        public void OnGaveUp(int attempts, LocalWebSocketException? lastError) => inner.OnGaveUp(attempts, lastError);
    }
}
