using System.Net;

namespace LocalWebSocket.Server;

/// <summary>
/// Per-IP abuse limits: connections open at once, and new connections per second (a token bucket with a
/// burst of twice the rate). Memory is bounded: entries of addresses with nothing open and a full bucket
/// are dropped as the table grows.
/// </summary>
internal sealed class AddressLimiter(int maxOpen, int perSecond, TimeProvider time)
{
    private const int PruneAbove = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, Entry> _entries = [];

    public enum Verdict
    {
        Allowed,
        TooMany,
        TooFast,
    }

    /// <summary>How long a client refused for having too many connections open is told to wait.</summary>
    public static readonly TimeSpan TooManyRetryAfter = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Counts a new connection; the lease, disposed once, frees its slot whatever the verdict. A refusal comes
    /// with the time after which a new connection would be let in (<c>Retry-After</c>).
    /// </summary>
    public (Verdict Verdict, Lease Slot, TimeSpan RetryAfter) Enter(IPAddress address)
    {
        var (verdict, retryAfter) = Count(address);
        return (verdict, new Lease(this, address), retryAfter);
    }

    private (Verdict, TimeSpan) Count(IPAddress address)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!_entries.TryGetValue(address, out var entry))
            {
                if (_entries.Count >= PruneAbove)
                {
                    Prune(now);
                }

                _entries[address] = entry = new Entry { Tokens = perSecond * 2.0, Stamp = now };
            }

            entry.Open++;
            entry.Tokens = Math.Min(perSecond * 2.0, entry.Tokens + (time.GetElapsedTime(entry.Stamp, now).TotalSeconds * perSecond));
            entry.Stamp = now;
            if (entry.Open > maxOpen)
            {
                return (Verdict.TooMany, TooManyRetryAfter);
            }

            if (entry.Tokens < 1)
            {
                // When the bucket holds a whole token again.
                return (Verdict.TooFast, TimeSpan.FromSeconds((1 - entry.Tokens) / perSecond));
            }

            entry.Tokens--;
            return (Verdict.Allowed, TimeSpan.Zero);
        }
    }

    private void Leave(IPAddress address)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(address, out var entry))
            {
                entry.Open--;
            }
        }
    }

    private void Prune(long now)
    {
        foreach (var (address, entry) in _entries.ToList())
        {
            var refilled = entry.Tokens + (time.GetElapsedTime(entry.Stamp, now).TotalSeconds * perSecond);
            if (entry.Open <= 0 && refilled >= perSecond * 2.0)
            {
                _entries.Remove(address);
            }
        }
    }

    /// <summary>One connection's slot; disposing it more than once frees it once.</summary>
    public sealed class Lease(AddressLimiter owner, IPAddress address) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Leave(address);
            }
        }
    }

    private sealed class Entry
    {
        public int Open { get; set; }

        public double Tokens { get; set; }

        public long Stamp { get; set; }
    }
}
