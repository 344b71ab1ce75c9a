using LocalWebSocket.Internal;

namespace LocalWebSocket.Discovery;

/// <summary>Settings of a <see cref="ServerScanner"/>; setters check their values.</summary>
public sealed class ScannerOptions
{
    private int _port = LocalWebSocketDefaults.Port;
    private TimeSpan _probeTimeout = TimeSpan.FromSeconds(1);
    private int _maxConcurrency = 256;
    private int _maxBodySize = 64 * 1024;
    private TimeSpan _interval = TimeSpan.FromSeconds(3);

    /// <summary>The port probed on every host. Default 8080, as Dart servers and scanners use.</summary>
    public int Port
    {
        get => _port;
        set => _port = OptionGuards.InRange(value, 1, 65535);
    }

    /// <summary>The deadline of one probe, covering connect, response headers and body. Default 1 s.</summary>
    public TimeSpan ProbeTimeout
    {
        get => _probeTimeout;
        set => _probeTimeout = OptionGuards.PositiveTime(value);
    }

    /// <summary>
    /// Probes in flight at once. Default 256, so that a whole /24 takes about one probe timeout (unreachable
    /// hosts cost the full timeout each).
    /// </summary>
    public int MaxConcurrency
    {
        get => _maxConcurrency;
        set => _maxConcurrency = OptionGuards.InRange(value, 1, 4096);
    }

    /// <summary>The largest details document accepted; a larger body rejects the host. Default 64 KiB.</summary>
    public int MaxBodySize
    {
        get => _maxBodySize;
        set => _maxBodySize = OptionGuards.AtLeast(value, 2);
    }

    /// <summary>Time between the starts of two scans when watching. Default 3 s.</summary>
    public TimeSpan Interval
    {
        get => _interval;
        set => _interval = OptionGuards.PositiveTime(value);
    }

    /// <summary>
    /// Where the scanner's meter (<see cref="LocalWebSocketTelemetry.Name"/>) comes from: an app's DI container
    /// passes its own. Null (the default): the meter the process shares.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    internal ScannerOptions Snapshot() => (ScannerOptions)MemberwiseClone();
}
