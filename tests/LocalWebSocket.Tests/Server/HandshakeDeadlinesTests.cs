using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Server;

public sealed class HandshakeDeadlinesTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    [Fact]
    public void A_limit_that_ended_unused_is_reused_and_does_not_hear_its_old_stop()
    {
        var deadlines = new HandshakeDeadlines(TimeProvider.System);
        using var firstStop = new CancellationTokenSource();
        using var secondStop = new CancellationTokenSource();
        var first = deadlines.Start(Long, firstStop.Token);
        var firstToken = first.Token;
        first.Dispose();

        using var second = deadlines.Start(Long, secondStop.Token);
        firstStop.Cancel();

        Assert.Equal(firstToken, second.Token);
        Assert.False(second.IsCancellationRequested);
        secondStop.Cancel();
        Assert.True(second.IsCancellationRequested);
    }

    [Fact]
    public void A_shared_token_is_never_handed_out_again()
    {
        var deadlines = new HandshakeDeadlines(TimeProvider.System);
        var first = deadlines.Start(Long, CancellationToken.None);
        var kept = first.Share();
        first.Dispose();

        using var second = deadlines.Start(Long, CancellationToken.None);

        Assert.NotEqual(kept, second.Token);
        Assert.False(second.IsCancellationRequested);
    }

    [Fact]
    public async Task A_limit_whose_time_is_up_is_cancelled_and_not_reused()
    {
        var deadlines = new HandshakeDeadlines(TimeProvider.System);
        var expired = deadlines.Start(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        var expiredToken = expired.Token;
        await Task.Delay(Timeout.Infinite, expiredToken).ContinueWith(_ => { }, TaskScheduler.Default).Within();
        expired.Dispose();

        using var next = deadlines.Start(Long, CancellationToken.None);

        Assert.True(expiredToken.IsCancellationRequested);
        Assert.NotEqual(expiredToken, next.Token);
        Assert.False(next.IsCancellationRequested);
    }

    [Fact]
    public async Task Restart_gives_the_next_request_a_full_limit()
    {
        var deadlines = new HandshakeDeadlines(TimeProvider.System);
        using var deadline = deadlines.Start(Long, CancellationToken.None);

        deadline.Restart(TimeSpan.FromMilliseconds(20));

        await Task.Delay(Timeout.Infinite, deadline.Token).ContinueWith(_ => { }, TaskScheduler.Default).Within();
        Assert.True(deadline.IsCancellationRequested);
    }
}
