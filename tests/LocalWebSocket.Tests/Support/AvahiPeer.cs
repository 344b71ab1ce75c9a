namespace LocalWebSocket.Tests.Support;

/// <summary>
/// avahi-daemon (Debian's, installed by <c>./test.sh</c>) on one host of a namespace LAN, with a private D-Bus
/// system bus in a temporary folder (<c>tests/peers/avahi-peer.sh</c>): nothing outside the namespace LAN
/// hears it, and nothing on the machine talks to it but the avahi tools this class starts.
/// </summary>
internal sealed class AvahiPeer : IAsyncDisposable
{
    private readonly NamespaceLan _lan;
    private readonly int _host;
    private readonly DirectoryInfo _folder;
    private readonly PeerProcess _daemon;

    private AvahiPeer(NamespaceLan lan, int host, DirectoryInfo folder, PeerProcess daemon)
    {
        _lan = lan;
        _host = host;
        _folder = folder;
        _daemon = daemon;
    }

    /// <summary>Starts avahi-daemon on <paramref name="host"/>'s eth0 as <paramref name="hostName"/><c>.local</c>, and waits until it runs.</summary>
    public static async Task<AvahiPeer> StartAsync(NamespaceLan lan, int host, string hostName)
    {
        if (!File.Exists("/usr/sbin/avahi-daemon") || !File.Exists("/usr/bin/avahi-browse"))
        {
            throw new InvalidOperationException("avahi-daemon and avahi-utils are missing: run tests/peers/install.sh (test.sh runs it), which installs them.");
        }

        var folder = Directory.CreateTempSubdirectory("lws-avahi-");
        var daemon = lan.Start(host, "sh", Path.Combine(PeerProcess.PeersDirectory, "avahi-peer.sh"), folder.FullName, hostName, "eth0", "120");
        var peer = new AvahiPeer(lan, host, folder, daemon);
        try
        {
            await daemon.WaitForLineContainingAsync("Server startup complete");
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }

        return peer;
    }

    /// <summary>The daemon's log so far.</summary>
    public string Log => _daemon.Output;

    /// <summary>Starts an avahi tool (avahi-browse, avahi-publish-service...) that talks to this daemon; its standard error joins its output.</summary>
    public PeerProcess Run(string tool, params string[] arguments) =>
        _lan.Start(_host, "sh", ["-c", "exec \"$@\" 2>&1", "sh", "env", $"DBUS_SYSTEM_BUS_ADDRESS=unix:path={Path.Combine(_folder.FullName, "bus")}", tool, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        // Stopped with SIGTERM (avahi-daemon -k), so that it removes its pid file (/run/avahi-daemon/pid, the
        // same for every avahi-daemon) before the next test starts one; killing it would leave the file, and a
        // zombie with that pid makes the next daemon think one already runs. The script ends with the daemon.
        await using (var stop = _lan.Start(_host, "avahi-daemon", "-k"))
        {
            await stop.WaitForExitAsync();
        }

        await _daemon.WaitForExitAsync();
        await _daemon.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
