using LocalWebSocket.Server;

namespace LocalWebSocket.Tests.Support;

/// <summary>Starts servers on 127.0.0.1, port 0, for one test.</summary>
internal static class TestServers
{
    /// <summary>The longest any test waits for a signal; a hang fails the test instead of the suite.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>A server on 127.0.0.1 that advertises over mDNS on loopback, its details only a name.</summary>
    public static Task<LocalWebSocketServer> StartAdvertisedAsync(string name) => StartAsync(o =>
    {
        o.AdvertiseMdns = true;
        o.Details = new System.Text.Json.Nodes.JsonObject { ["name"] = name };
    });

    public static async Task<LocalWebSocketServer> StartAsync(Action<LocalWebSocketServerOptions>? configure = null)
    {
        var options = new LocalWebSocketServerOptions { Host = "127.0.0.1", Port = 0 };
        configure?.Invoke(options);
        var server = new LocalWebSocketServer(options);
        await server.StartAsync();
        return server;
    }

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Timeout"/>.</summary>
    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Timeout);

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Timeout"/>.</summary>
    public static Task Within(this Task task) => task.WaitAsync(Timeout);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checking every 10 ms, for state the server exposes no
    /// event for (a gauge of its statistics); fails after <see cref="Timeout"/>.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Timeout)
            {
                throw new TimeoutException($"Not within {Timeout.TotalSeconds} s: {what}.");
            }

            await tick.WaitForNextTickAsync();
        }
    }

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Timeout"/>.</summary>
    public static Task<T> Within<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Timeout);
}
