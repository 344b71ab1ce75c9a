using System.Diagnostics;
using System.Globalization;
using LocalWebSocket.Client;
using LocalWebSocket.Server;
using LocalWebSocket.Tests.Support;
using Xunit.Abstractions;

namespace LocalWebSocket.Tests.Reliability;

/// <summary>
/// Clients joining, sending sequenced messages and leaving, for a while: nothing is lost, duplicated or
/// reordered, and the server is clean afterwards. 20 s in the test command; <c>tests/soak.sh</c> runs the
/// same test for minutes (<c>LWS_SOAK_SECONDS</c>) and keeps its report (<c>LWS_SOAK_REPORT</c>).
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    /// <summary>Clients connected from before the first message to after the last: they must get every one.</summary>
    private const int StableClients = 10;

    /// <summary>Short-lived clients at once; each joins, sends, and leaves, and another takes its place.</summary>
    private const int ChurnClients = 40;

    private static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Clients_joining_sending_and_leaving_lose_nothing_and_leave_the_server_clean()
    {
        var duration = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("LWS_SOAK_SECONDS") ?? "20", CultureInfo.InvariantCulture));
        await using var server = await TestServers.StartAsync();
        var ledger = new Ledger();
        var stable = new List<Peer>();
        for (var i = 0; i < StableClients; i++)
        {
            stable.Add(await Peer.JoinAsync(server, ledger, stableReceiver: true));
        }

        await TestServers.UntilAsync(() => server.GetStatistics().ClientsConnected == StableClients, "the stable clients joined");
        var clock = Stopwatch.StartNew();
        long? firstMemory = null;
        var joined = StableClients;
        var random = new Random(20261205);

        // Stable clients send all along; churn clients each live for 10 to 60 messages.
        var stableSenders = stable.Select(peer => peer.SendUntilAsync(() => clock.Elapsed >= duration)).ToList();
        var churn = new List<Task>();
        while (clock.Elapsed < duration)
        {
            while (churn.Count < ChurnClients && clock.Elapsed < duration)
            {
                var count = random.Next(10, 61);
                churn.Add(RunChurnClientAsync(server, ledger, count));
                joined++;
            }

            var ended = await Task.WhenAny(churn).WaitAsync(TestServers.Timeout);
            Assert.True(ended.IsCompletedSuccessfully, string.Join("\n", ledger.Violations.Take(5)) + ended.Exception);
            churn.Remove(ended);
            if (firstMemory is null && clock.Elapsed >= duration / 4)
            {
                firstMemory = GC.GetTotalMemory(forceFullCollection: true);
            }
        }

        Assert.Empty(ledger.Violations);
        await Task.WhenAll(churn).WaitAsync(TestServers.Timeout);
        await Task.WhenAll(stableSenders).WaitAsync(TestServers.Timeout);

        // Every message sent reaches every stable client, in order, once.
        await Task.WhenAll(stable.Select(peer => peer.ReceivedEverythingAsync(ledger))).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var peer in stable)
        {
            await peer.DisposeAsync();
        }

        await TestServers.UntilAsync(
            () => server.GetStatistics() is { ClientsConnected: 0, OpenConnections: 0 },
            "the server has no clients and no connections left");
        var lastMemory = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Empty(ledger.Violations);

        var report = string.Create(CultureInfo.InvariantCulture,
            $"soak {duration.TotalSeconds:0} s: {joined} clients joined, {ledger.Sent} messages sent, {ledger.Delivered} deliveries checked, " +
            $"0 lost/duplicated/reordered; managed heap after a full GC {firstMemory / 1024} KiB at a quarter, {lastMemory / 1024} KiB at the end");
        output.WriteLine(report);
        if (Environment.GetEnvironmentVariable("LWS_SOAK_REPORT") is { Length: > 0 } path)
        {
            await File.AppendAllTextAsync(path, report + Environment.NewLine);
        }

        Assert.True(joined >= StableClients + ChurnClients * 2, $"only {joined} clients joined");
        if (duration >= TimeSpan.FromMinutes(2))
        {
            // Flat memory is a claim for minutes, not for the short form's warm-up.
            Assert.True(lastMemory < firstMemory * 1.05 + (1 << 20), report);
        }
    }

    private static async Task RunChurnClientAsync(LocalWebSocketServer server, Ledger ledger, int messages)
    {
        await using var peer = await Peer.JoinAsync(server, ledger, stableReceiver: false);
        var sent = 0;
        await peer.SendUntilAsync(() => ++sent > messages);
    }

    /// <summary>What every sender has sent, and what went wrong anywhere.</summary>
    private sealed class Ledger
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<int, int> _sentBySender = [];
        private readonly List<string> _violations = [];
        private int _nextSender;
        private long _delivered;

        public int NewSender() => Interlocked.Increment(ref _nextSender);

        public long Sent
        {
            get
            {
                lock (_gate)
                {
                    return _sentBySender.Values.Sum();
                }
            }
        }

        public long Delivered => Interlocked.Read(ref _delivered);

        public IReadOnlyList<string> Violations
        {
            get
            {
                lock (_gate)
                {
                    return [.. _violations];
                }
            }
        }

        public void CountSent(int sender)
        {
            lock (_gate)
            {
                _sentBySender[sender] = _sentBySender.GetValueOrDefault(sender) + 1;
            }
        }

        public Dictionary<int, int> SentBySender()
        {
            lock (_gate)
            {
                return new(_sentBySender);
            }
        }

        public void CountDelivered() => Interlocked.Increment(ref _delivered);

        public void Violation(string what)
        {
            lock (_gate)
            {
                _violations.Add(what);
            }
        }
    }

    /// <summary>One client: sends "sender:sequence" messages and checks, per sender, what it receives.</summary>
    private sealed class Peer : IAsyncDisposable
    {
        private readonly LocalWebSocketClient _client;
        private readonly Ledger _ledger;
        private readonly bool _stableReceiver;
        private readonly int _sender;
        private readonly Dictionary<int, int> _lastSeen = [];
        private readonly Lock _gate = new();
        private TaskCompletionSource? _caughtUp;
        private Dictionary<int, int>? _expected;

        private Peer(LocalWebSocketClient client, Ledger ledger, bool stableReceiver)
        {
            _client = client;
            _ledger = ledger;
            _stableReceiver = stableReceiver;
            _sender = ledger.NewSender();
            client.MessageReceived += (_, message) => OnMessage(message.Text);
            client.StateChanged += (_, change) =>
            {
                if (change.State == ConnectionState.Disconnected && !Volatile.Read(ref _leaving))
                {
                    ledger.Violation($"client {_sender} was disconnected: {change}");
                }
            };
        }

        private bool _leaving;

        public static async Task<Peer> JoinAsync(LocalWebSocketServer server, Ledger ledger, bool stableReceiver)
        {
            var client = new LocalWebSocketClient(new LocalWebSocketClientOptions { ReconnectPolicy = ReconnectPolicy.None });
            var peer = new Peer(client, ledger, stableReceiver);
            await client.ConnectAsync(server.WebSocketUrl).Within();
            return peer;
        }

        public async Task SendUntilAsync(Func<bool> done)
        {
            using var pace = new PeriodicTimer(SendInterval);
            for (var sequence = 0; !done(); sequence++)
            {
                await _client.SendAsync(string.Create(CultureInfo.InvariantCulture, $"{_sender}:{sequence}"));
                _ledger.CountSent(_sender);
                await pace.WaitForNextTickAsync();
            }
        }

        /// <summary>Completes once this (stable) client has every message the ledger says was sent by the others.</summary>
        public Task ReceivedEverythingAsync(Ledger ledger)
        {
            lock (_gate)
            {
                _expected = ledger.SentBySender();
                _expected.Remove(_sender);
                _caughtUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                CheckCaughtUpLocked();
                return _caughtUp.Task;
            }
        }

        private void OnMessage(string text)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            var sender = int.Parse(text.AsSpan(0, colon), CultureInfo.InvariantCulture);
            var sequence = int.Parse(text.AsSpan(colon + 1), CultureInfo.InvariantCulture);
            _ledger.CountDelivered();
            lock (_gate)
            {
                // A stable client was there before any message: each sender's messages from 0, one by one.
                // Any other client joined midway: from wherever it came in, one by one.
                var expected = _lastSeen.TryGetValue(sender, out var last) ? last + 1 : (_stableReceiver ? 0 : sequence);
                if (sequence != expected)
                {
                    _ledger.Violation($"client {_sender} got {sender}:{sequence} where {sender}:{expected} was due");
                }

                _lastSeen[sender] = sequence;
                CheckCaughtUpLocked();
            }
        }

        private void CheckCaughtUpLocked()
        {
            if (_expected is not null && _expected.All(pair => _lastSeen.GetValueOrDefault(pair.Key, -1) == pair.Value - 1))
            {
                _caughtUp?.TrySetResult();
            }
        }

        public async ValueTask DisposeAsync()
        {
            Volatile.Write(ref _leaving, true);
            await _client.DisconnectAsync().Within();
            await _client.DisposeAsync();
        }
    }
}
