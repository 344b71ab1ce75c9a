using System.Net.WebSockets;
using LocalWebSocket.Client;

namespace LocalWebSocket.Tests.Client;

/// <summary>The backoff math of each policy: sequences, caps, jitter bounds, limits.</summary>
public sealed class ReconnectPolicyTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    /// <summary>Delays for attempts 1..count, feeding each delay back as the previous one, as the client does.</summary>
    private static List<TimeSpan?> Delays(IReconnectPolicy policy, int count, TimeSpan? stepClock = null)
    {
        var delays = new List<TimeSpan?>();
        var previous = TimeSpan.Zero;
        var elapsed = TimeSpan.Zero;
        for (var attempt = 1; attempt <= count; attempt++)
        {
            var delay = policy.NextDelay(new ReconnectContext
            {
                Attempt = attempt,
                PreviousDelay = previous,
                SinceDisconnected = elapsed,
                SinceLastConnected = null,
            });
            delays.Add(delay);
            previous = delay ?? TimeSpan.Zero;
            elapsed += (delay ?? TimeSpan.Zero) + (stepClock ?? TimeSpan.Zero);
        }

        return delays;
    }

    [Fact]
    public void Constant_repeats_its_delay_forever()
    {
        Assert.All(Delays(ReconnectPolicy.Constant(250 * Ms), 50), d => Assert.Equal(250 * Ms, d));
    }

    [Fact]
    public void Linear_grows_by_its_increment_and_reaches_its_cap_even_when_steps_overshoot()
    {
        Assert.Equal(
            [100 * Ms, 400 * Ms, 700 * Ms, 1000 * Ms, 1000 * Ms],
            Delays(ReconnectPolicy.Linear(100 * Ms, 300 * Ms, 1000 * Ms), 5));
        Assert.Equal([2000 * Ms, 4000 * Ms, 6000 * Ms, 8000 * Ms], Delays(ReconnectPolicy.Linear(2000 * Ms, 2000 * Ms), 4));
    }

    [Fact]
    public void Exponential_multiplies_and_caps_without_overflow()
    {
        Assert.Equal(
            [100 * Ms, 200 * Ms, 400 * Ms, 800 * Ms, 1600 * Ms, 3200 * Ms, 6400 * Ms, 6400 * Ms],
            Delays(ReconnectPolicy.Exponential(100 * Ms, 6400 * Ms), 8));
        Assert.Equal([1000 * Ms, 1500 * Ms, 2250 * Ms], Delays(ReconnectPolicy.Exponential(1000 * Ms, TimeSpan.FromMinutes(1), 1.5), 3));
        Assert.Equal(TimeSpan.FromSeconds(30), Delays(ReconnectPolicy.Exponential(Ms, TimeSpan.FromSeconds(30)), 5000)[^1]);
    }

    [Fact]
    public void Full_jitter_stays_within_zero_and_the_capped_exponential()
    {
        var random = new Random(1234);
        var policy = ReconnectPolicy.FullJitter(100 * Ms, 2000 * Ms, random.NextDouble);
        var delays = Delays(policy, 200);

        for (var i = 0; i < delays.Count; i++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(2000 * Ms.Ticks, (long)(100 * Ms.Ticks * Math.Pow(2, i))));
            Assert.InRange(delays[i]!.Value, TimeSpan.Zero, ceiling);
        }

        // Jitter: the capped attempts are spread, not all the same.
        Assert.True(delays.Skip(10).Distinct().Count() > 100);
    }

    [Fact]
    public void Full_jitter_extremes_are_zero_and_the_ceiling()
    {
        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero], Delays(ReconnectPolicy.FullJitter(100 * Ms, 1000 * Ms, () => 0.0), 2));
        Assert.Equal([100 * Ms, 200 * Ms, 400 * Ms, 800 * Ms, 1000 * Ms], Delays(ReconnectPolicy.FullJitter(100 * Ms, 1000 * Ms, () => 1.0), 5));
    }

    [Fact]
    public void Decorrelated_jitter_stays_between_base_and_three_times_the_previous_delay_and_under_the_cap()
    {
        var random = new Random(99);
        var delays = Delays(ReconnectPolicy.DecorrelatedJitter(100 * Ms, 5000 * Ms, random.NextDouble), 300);

        var previous = 100 * Ms;
        foreach (var delay in delays)
        {
            Assert.InRange(delay!.Value, 100 * Ms, TimeSpan.FromTicks(Math.Min(5000 * Ms.Ticks, previous.Ticks * 3)));
            previous = delay.Value;
        }

        Assert.Equal([300 * Ms, 900 * Ms, 2700 * Ms, 5000 * Ms, 5000 * Ms], Delays(ReconnectPolicy.DecorrelatedJitter(100 * Ms, 5000 * Ms, () => 1.0), 5));
    }

    [Fact]
    public void Max_attempts_gives_up_after_that_many()
    {
        var delays = Delays(ReconnectPolicy.Constant(Ms).WithMaxAttempts(3), 5);
        Assert.Equal([Ms, Ms, Ms, null, null], delays);
    }

    [Fact]
    public void Give_up_deadline_counts_from_the_disconnect()
    {
        // Each attempt also takes 100 ms to fail: 1 s waits + 0.1 s attempts reach 3.5 s during the fourth wait.
        var delays = Delays(ReconnectPolicy.Constant(TimeSpan.FromSeconds(1)).WithGiveUpAfter(TimeSpan.FromSeconds(3.5)), 5, 100 * Ms);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null, null], delays);
    }

    [Fact]
    public void None_never_reconnects()
    {
        Assert.Equal([null], Delays(ReconnectPolicy.None, 1));
    }

    [Fact]
    public void Limits_pass_the_callbacks_through()
    {
        var inner = new RecordingPolicy();
        var limited = inner.WithMaxAttempts(2).WithGiveUpAfter(TimeSpan.FromHours(1));

        limited.OnReconnected(3);
        limited.OnGaveUp(4, new LocalWebSocketException("x"));

        Assert.Equal(["reconnected 3", "gave up 4"], inner.Calls);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Constant(-Ms));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Linear(2 * Ms, Ms, Ms));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Exponential(Ms, 10 * Ms, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Exponential(Ms, 10 * Ms, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.FullJitter(10 * Ms, Ms));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Constant(Ms).WithMaxAttempts(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Constant(Ms).WithGiveUpAfter(TimeSpan.Zero));
    }

    private sealed class RecordingPolicy : IReconnectPolicy
    {
        public List<string> Calls { get; } = [];

        public TimeSpan? NextDelay(in ReconnectContext context) => TimeSpan.Zero;

        public void OnReconnected(int attempts) => Calls.Add($"reconnected {attempts}");

        public void OnGaveUp(int attempts, LocalWebSocketException? lastError) => Calls.Add($"gave up {attempts}");
    }
}
