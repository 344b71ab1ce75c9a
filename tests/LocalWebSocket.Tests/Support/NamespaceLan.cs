using System.Diagnostics;

namespace LocalWebSocket.Tests.Support;

/// <summary>
/// A private LAN of network namespaces (see tests/peers/netns-lan.sh): hosts 198.18.0.1..N (and fe80::1..N)
/// on one bridge, no route out of it. Programs run "on a host" through <c>ip netns exec</c>. Deleted on dispose.
/// </summary>
internal sealed class NamespaceLan : IAsyncDisposable
{
    private static readonly Lazy<string?> s_unavailableReason = new(Probe);

    private readonly string _suffix;

    private NamespaceLan(string suffix) => _suffix = suffix;

    /// <summary>Why namespaces cannot be made here (not root, no iproute2...), or null when they can.</summary>
    public static string? UnavailableReason => s_unavailableReason.Value;

    /// <summary>Builds the LAN; with <paramref name="ipv6Only"/>, the hosts have IPv6 link-local addresses only.</summary>
    public static async Task<NamespaceLan> CreateAsync(int hosts, bool ipv6Only = false)
    {
        var suffix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var lan = new NamespaceLan(suffix);
        var (exitCode, output) = await RunAsync(
            "sh", Path.Combine(PeerProcess.PeersDirectory, "netns-lan.sh"), "up", suffix, hosts.ToString(System.Globalization.CultureInfo.InvariantCulture), ipv6Only ? "ipv6-only" : "dual");
        if (exitCode != 0)
        {
            await lan.DisposeAsync();
            throw new InvalidOperationException("netns-lan.sh up failed: " + output);
        }

        return lan;
    }

    public static string Address(int host) => $"198.18.0.{host}";

    /// <summary>Host <paramref name="host"/>'s IPv6 link-local address, without a scope (each host's eth0 has its own index).</summary>
    public static string LinkLocal(int host) => $"fe80::{host}";

    /// <summary>Runs <c>ip</c> on host <paramref name="host"/> (as <c>ip -n</c>), e.g. to change its addresses; throws when it fails.</summary>
    public async Task IpAsync(int host, params string[] arguments)
    {
        var (exitCode, output) = await RunAsync("ip", ["-n", $"lws-h{host}-{_suffix}", .. arguments]);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} on host {host}: {output}");
        }
    }

    /// <summary>Starts <paramref name="program"/> on host <paramref name="host"/>.</summary>
    public PeerProcess Start(int host, string program, params string[] arguments) =>
        PeerProcess.StartRaw("ip", ["netns", "exec", $"lws-h{host}-{_suffix}", program, .. arguments]);

    /// <summary>Starts the <c>lws</c> tool built with these tests on host <paramref name="host"/>.</summary>
    public PeerProcess StartLws(int host, params string[] arguments) =>
        Start(host, "dotnet", [PeerProcess.LwsDll, .. arguments]);

    /// <summary>Like <see cref="StartLws"/>, with a standard input the test holds open (for <c>lws connect</c>).</summary>
    public PeerProcess StartLwsWithInput(int host, params string[] arguments) =>
        PeerProcess.StartRaw("ip", redirectInput: true, ["netns", "exec", $"lws-h{host}-{_suffix}", "dotnet", PeerProcess.LwsDll, .. arguments]);

    /// <summary>
    /// Unplugs (or plugs back) host <paramref name="host"/>'s cable: its port on the bridge goes down, so its
    /// packets are dropped both ways and nobody sees a FIN or a reset.
    /// </summary>
    public async Task SetLinkAsync(int host, bool up)
    {
        var (exitCode, output) = await RunAsync("ip", "-n", $"lws-lan-{_suffix}", "link", "set", $"p{host}", up ? "up" : "down");
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"ip link set p{host}: {output}");
        }
    }

    public async ValueTask DisposeAsync() =>
        await RunAsync("sh", Path.Combine(PeerProcess.PeersDirectory, "netns-lan.sh"), "down", _suffix);

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        var name = "lws-probe-" + Environment.ProcessId;
        var (added, output) = RunAsync("ip", "netns", "add", name).GetAwaiter().GetResult();
        if (added != 0)
        {
            return "cannot create network namespaces here (ip netns add: " + output.Trim() + ")";
        }

        RunAsync("ip", "netns", "del", name).GetAwaiter().GetResult();
        return null;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        arguments.ToList().ForEach(info.ArgumentList.Add);
        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TestServers.Timeout);
            return (process.ExitCode, await output + await errors);
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return (-1, exception.Message);
        }
    }
}

/// <summary>A test that needs network namespaces; skipped, with the reason shown, where they cannot be made.</summary>
internal sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (NamespaceLan.UnavailableReason is { } reason)
        {
            Skip = reason;
        }
    }
}
