using Microsoft.Extensions.Time.Testing;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// The testing package's <see cref="FakeTimeProvider"/>, telling a test each time code arms a timer on it
/// (<see cref="Armed"/>: the due time, whenever a timer is created or changed, including a cancellation source's
/// CancelAfter). A test waits for the timeout it is about to drive to be armed, then advances the clock past
/// it: no sleeping, and no advancing before the code under test is waiting.
/// </summary>
internal sealed class ObservedFakeTime : FakeTimeProvider
{
    /// <summary>The due times of timers armed so far (infinite ones left out).</summary>
    public Probe<TimeSpan> Armed { get; } = new();

    /// <summary>Waits until a timer has been armed for exactly <paramref name="dueTime"/>.</summary>
    public Task WaitForArmedAsync(TimeSpan dueTime) => Armed.WaitUntilAsync(armed => armed.Contains(dueTime));

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ObservedTimer(this, base.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ObservedTimer(ObservedFakeTime owner, ITimer inner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                owner.Armed.Add(dueTime);
            }

            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
