namespace LocalWebSocket.Server;

/// <summary>
/// The time limits of handshakes, reused. A limit is a cancellation source with a timer; made afresh, a
/// connection storm leaves them behind by the thousand, a good part of what a handshake costs.
/// </summary>
/// <remarks>
/// A limit goes back to the pool only when its token never reached code outside ours (a validator or an
/// authenticator may keep a token it was given), and only if it was not cancelled: a reused token must
/// never look cancelled, or be cancelled, on behalf of an earlier connection.
/// </remarks>
internal sealed class HandshakeDeadlines(TimeProvider time)
{
    /// <summary>Enough for the handshakes of a storm in flight at once; beyond that limits are made and dropped.</summary>
    private const int MaxPooled = 256;

    private readonly Lock _gate = new();
    private readonly Stack<Deadline> _pooled = new();

    /// <summary>Starts a limit of <paramref name="timeout"/> that also ends when <paramref name="stopping"/> is cancelled.</summary>
    public Deadline Start(TimeSpan timeout, CancellationToken stopping)
    {
        Deadline? deadline;
        lock (_gate)
        {
            _pooled.TryPop(out deadline);
        }

        deadline ??= new Deadline(this, time);
        deadline.Begin(timeout, stopping);
        return deadline;
    }

    private void Return(Deadline deadline)
    {
        lock (_gate)
        {
            if (_pooled.Count < MaxPooled)
            {
                _pooled.Push(deadline);
                return;
            }
        }

        deadline.DisposeSource();
    }

    /// <summary>One handshake's limit; its owner disposes it exactly once, and must not use it after.</summary>
    public sealed class Deadline : IDisposable
    {
        private readonly HandshakeDeadlines _owner;
        private readonly CancellationTokenSource _source;
        private CancellationTokenRegistration _stop;
        private bool _shared;

        internal Deadline(HandshakeDeadlines owner, TimeProvider time)
        {
            _owner = owner;
            // On the server's clock: CancelAfter then arms that clock's timer.
            _source = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        }

        /// <summary>Cancelled when the time is up or the server stops.</summary>
        public CancellationToken Token => _source.Token;

        /// <summary>Whether the time is up or the server stopped.</summary>
        public bool IsCancellationRequested => _source.IsCancellationRequested;

        /// <summary>The token, for code that may keep it: then this limit is not reused.</summary>
        public CancellationToken Share()
        {
            _shared = true;
            return _source.Token;
        }

        /// <summary>Starts the limit again, for the next request on the same connection.</summary>
        public void Restart(TimeSpan timeout) => _source.CancelAfter(timeout);

        /// <inheritdoc />
        public void Dispose()
        {
            // Waits for the stop callback if it is running, so the source is not cancelled after a reset.
            _stop.Dispose();
            if (!_shared && _source.TryReset())
            {
                _owner.Return(this);
            }
            else
            {
                DisposeSource();
            }
        }

        internal void Begin(TimeSpan timeout, CancellationToken stopping)
        {
            _source.CancelAfter(timeout);

            // A registration rather than a linked source: the stopping token recycles its registration
            // nodes, and a plain source can be reset.
            _stop = stopping.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _source);
        }

        internal void DisposeSource() => _source.Dispose();
    }
}
