namespace LocalWebSocket.Client;

/// <summary>
/// The built-in reconnect policies. Each retries forever unless limited with
/// <see cref="ReconnectPolicyExtensions.WithMaxAttempts"/> or <see cref="ReconnectPolicyExtensions.WithGiveUpAfter"/>.
/// </summary>
/// <remarks>
/// Counterparts of the Dart packages' policies: <c>InfiniteReconnect(interval)</c> is <see cref="Constant"/>;
/// <c>LinearBackoffReconnect(maxAttempts, interval)</c> is <c>Linear(interval, interval).WithMaxAttempts(n)</c>;
/// <c>ExponentialBackoffReconnect(maxAttempts, initialDelay, maxDelay, multiplier)</c> is
/// <c>Exponential(initialDelay, maxDelay, multiplier).WithMaxAttempts(n)</c>; web_socket_client's default
/// <c>BinaryExponentialBackoff(100 ms, 7 steps)</c> is <c>Exponential(100 ms, 6.4 s)</c>.
/// </remarks>
public static class ReconnectPolicy
{
    /// <summary>Never reconnects.</summary>
    public static IReconnectPolicy None { get; } = new NoReconnectPolicy();

    /// <summary>The same delay before every attempt.</summary>
    public static IReconnectPolicy Constant(TimeSpan delay) => new ConstantBackoff(delay);

    /// <summary><paramref name="initial"/>, then <paramref name="increment"/> more each attempt, up to <paramref name="maximum"/>.</summary>
    public static IReconnectPolicy Linear(TimeSpan initial, TimeSpan increment, TimeSpan? maximum = null) =>
        new LinearBackoff(initial, increment, maximum ?? TimeSpan.MaxValue);

    /// <summary><paramref name="initial"/> × <paramref name="multiplier"/>^(attempt − 1), up to <paramref name="maximum"/>. A multiplier of 2 is binary exponential backoff.</summary>
    public static IReconnectPolicy Exponential(TimeSpan initial, TimeSpan maximum, double multiplier = 2.0) =>
        new ExponentialBackoff(initial, maximum, multiplier);

    /// <summary>
    /// Exponential backoff with full jitter: a uniformly random delay in
    /// [0, min(<paramref name="maximum"/>, <paramref name="baseDelay"/> × 2^(attempt − 1))), so that many
    /// clients dropped at once do not all retry in the same instant (AWS architecture blog, "Exponential
    /// Backoff And Jitter").
    /// </summary>
    /// <param name="baseDelay">The scale of the first attempt's delay.</param>
    /// <param name="maximum">The cap.</param>
    /// <param name="random">Uniform values in [0, 1); <see cref="Random.Shared"/> by default. Inject one for deterministic tests.</param>
    public static IReconnectPolicy FullJitter(TimeSpan baseDelay, TimeSpan maximum, Func<double>? random = null) =>
        new FullJitterBackoff(baseDelay, maximum, random ?? Random.Shared.NextDouble);

    /// <summary>
    /// Decorrelated jitter: each delay is uniformly random in [<paramref name="baseDelay"/>, previous × 3),
    /// capped at <paramref name="maximum"/> (AWS architecture blog); spreads retries while still growing.
    /// </summary>
    /// <param name="baseDelay">The smallest delay, and the first one's lower bound.</param>
    /// <param name="maximum">The cap.</param>
    /// <param name="random">Uniform values in [0, 1); <see cref="Random.Shared"/> by default.</param>
    public static IReconnectPolicy DecorrelatedJitter(TimeSpan baseDelay, TimeSpan maximum, Func<double>? random = null) =>
        new DecorrelatedJitterBackoff(baseDelay, maximum, random ?? Random.Shared.NextDouble);

    internal static void RequireNonNegative(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, "A delay cannot be negative.");
        }
    }

    internal static void RequireOrdered(TimeSpan low, TimeSpan high, string name)
    {
        if (high < low)
        {
            throw new ArgumentOutOfRangeException(name, high, "The maximum cannot be below the initial delay.");
        }
    }

    /// <summary>Multiplies without overflowing past <paramref name="cap"/>.</summary>
    internal static TimeSpan Capped(double ticks, TimeSpan cap) =>
        double.IsNaN(ticks) || ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)Math.Max(0, ticks));

    private sealed class NoReconnectPolicy : IReconnectPolicy
    {
        public TimeSpan? NextDelay(in ReconnectContext context) => null;
    }
}

/// <summary>The same delay before every attempt.</summary>
internal sealed class ConstantBackoff : IReconnectPolicy
{
    private readonly TimeSpan _delay;

    public ConstantBackoff(TimeSpan delay)
    {
        ReconnectPolicy.RequireNonNegative(delay, nameof(delay));
        _delay = delay;
    }

    public TimeSpan? NextDelay(in ReconnectContext context) => _delay;
}

/// <summary>initial + increment × (attempt − 1), capped.</summary>
internal sealed class LinearBackoff : IReconnectPolicy
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _increment;
    private readonly TimeSpan _maximum;

    public LinearBackoff(TimeSpan initial, TimeSpan increment, TimeSpan maximum)
    {
        ReconnectPolicy.RequireNonNegative(initial, nameof(initial));
        ReconnectPolicy.RequireNonNegative(increment, nameof(increment));
        ReconnectPolicy.RequireOrdered(initial, maximum, nameof(maximum));
        (_initial, _increment, _maximum) = (initial, increment, maximum);
    }

    // Unlike web_socket_client's LinearBackoff, the cap itself is reached even when the steps overshoot it.
    public TimeSpan? NextDelay(in ReconnectContext context) =>
        ReconnectPolicy.Capped(_initial.Ticks + ((double)_increment.Ticks * (context.Attempt - 1)), _maximum);
}

/// <summary>initial × multiplier^(attempt − 1), capped.</summary>
internal sealed class ExponentialBackoff : IReconnectPolicy
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _maximum;
    private readonly double _multiplier;

    public ExponentialBackoff(TimeSpan initial, TimeSpan maximum, double multiplier)
    {
        ReconnectPolicy.RequireNonNegative(initial, nameof(initial));
        ReconnectPolicy.RequireOrdered(initial, maximum, nameof(maximum));
        if (!(multiplier >= 1.0) || double.IsInfinity(multiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The multiplier must be a finite number of at least 1.");
        }

        (_initial, _maximum, _multiplier) = (initial, maximum, multiplier);
    }

    public TimeSpan? NextDelay(in ReconnectContext context) =>
        ReconnectPolicy.Capped(_initial.Ticks * Math.Pow(_multiplier, context.Attempt - 1), _maximum);
}

/// <summary>random × min(cap, base × 2^(attempt − 1)).</summary>
internal sealed class FullJitterBackoff : IReconnectPolicy
{
    private readonly TimeSpan _base;
    private readonly TimeSpan _maximum;
    private readonly Func<double> _random;

    public FullJitterBackoff(TimeSpan baseDelay, TimeSpan maximum, Func<double> random)
    {
        ReconnectPolicy.RequireNonNegative(baseDelay, nameof(baseDelay));
        ReconnectPolicy.RequireOrdered(baseDelay, maximum, nameof(maximum));
        (_base, _maximum, _random) = (baseDelay, maximum, random);
    }

    public TimeSpan? NextDelay(in ReconnectContext context)
    {
        var ceiling = ReconnectPolicy.Capped(_base.Ticks * Math.Pow(2, context.Attempt - 1), _maximum);
        return TimeSpan.FromTicks((long)(ceiling.Ticks * Math.Clamp(_random(), 0.0, 1.0)));
    }
}

/// <summary>min(cap, random between base and previous × 3).</summary>
internal sealed class DecorrelatedJitterBackoff : IReconnectPolicy
{
    private readonly TimeSpan _base;
    private readonly TimeSpan _maximum;
    private readonly Func<double> _random;

    public DecorrelatedJitterBackoff(TimeSpan baseDelay, TimeSpan maximum, Func<double> random)
    {
        ReconnectPolicy.RequireNonNegative(baseDelay, nameof(baseDelay));
        ReconnectPolicy.RequireOrdered(baseDelay, maximum, nameof(maximum));
        (_base, _maximum, _random) = (baseDelay, maximum, random);
    }

    public TimeSpan? NextDelay(in ReconnectContext context)
    {
        var previous = Math.Max(context.PreviousDelay.Ticks, _base.Ticks);
        var upper = previous * 3.0;
        var ticks = _base.Ticks + ((upper - _base.Ticks) * Math.Clamp(_random(), 0.0, 1.0));
        return ReconnectPolicy.Capped(ticks, _maximum);
    }
}
