using System.Text.RegularExpressions;
using LocalWebSocket.Discovery.Mdns;
using LocalWebSocket.Tests.Discovery;
using LocalWebSocket.Tests.Support;

namespace LocalWebSocket.Tests.Interop;

/// <summary>
/// Our mDNS against Avahi, the responder of most Linux machines, across two hosts of a namespace LAN the
/// test builds: host 1 runs <c>lws</c>, host 2 avahi-daemon with a private D-Bus (see <see cref="AvahiPeer"/>).
/// </summary>
[Collection(MdnsCollection.Name)]
public sealed class AvahiTests
{
    private static readonly string Ours = NamespaceLan.Address(1);

    /// <summary>Our host name: the machine's (namespaces share it) with -lws after it.</summary>
    private static readonly string OurHostLabel = MdnsAdvertiser.HostLabel(Environment.MachineName);

    /// <summary>
    /// A service name as <c>avahi-browse --parsable</c> prints it, as a pattern: every character but ASCII
    /// letters, digits, '-' and '_' as a backslash and its code in three decimal digits (a space is <c>\032</c>).
    /// </summary>
    private static string Parsable(string name) => Regex.Escape(string.Concat(name.Select(c =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c.ToString() : $"\\{(int)c:D3}")));

    [NamespaceFact]
    public async Task Avahi_resolves_our_service_and_we_find_the_service_avahi_publishes()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);
        await using var avahi = await AvahiPeer.StartAsync(lan, 2, "avahi-peer");
        await using var server = lan.StartLws(1, "serve", "--host", Ours, "--port", "8080", "--interface", Ours, "--detail", "name=Reading room", "--duration", "60");
        await server.WaitForLineContainingAsync("advertising \"Reading room\"");

        // avahi-browse resolves it: instance, host, port and TXT (the address it prints may be our IPv6
        // link-local one, which we publish too); avahi resolves our host name to our IPv4 address.
        await using (var browse = avahi.Run("avahi-browse", "--resolve", "--terminate", "--parsable", "_localws._tcp"))
        {
            Assert.Equal(0, await browse.WaitForExitAsync());
            Assert.Matches($"""=;eth0;IPv4;{Parsable("Reading room")};_localws\._tcp;local;{OurHostLabel}\.local;[0-9a-f.:]+;8080;.*"name=Reading room".*"path=/ws".*""", browse.Output);
        }

        await using (var resolve = avahi.Run("avahi-resolve-host-name", "-4", OurHostLabel + ".local"))
        {
            Assert.Equal(0, await resolve.WaitForExitAsync());
            Assert.Contains($"{OurHostLabel}.local\t{Ours}", resolve.Output, StringComparison.Ordinal);
        }

        // avahi-publish registers a service on host 2; our browser on host 1 finds it with its TXT as details.
        await using var publish = avahi.Run("avahi-publish-service", "Avahi table", "_localws._tcp", "9000", "path=/ws", "v=1", "name=avahi table");
        await publish.WaitForLineContainingAsync("Established under name 'Avahi table'");
        await using var scan = lan.StartLws(1, "scan", NamespaceLan.Address(2), "--port", "9000", "--interface", Ours, "--once", "--json");
        Assert.Equal(0, await scan.WaitForExitAsync());
        Assert.Contains($$"""{"event":"added","url":"ws://{{NamespaceLan.Address(2)}}:9000/ws","details":{"name":"avahi table"},"source":"mdns",""", scan.Output, StringComparison.Ordinal);
        Assert.Contains("\"serviceName\":\"Avahi table\"", scan.Output, StringComparison.Ordinal);
    }

    [NamespaceFact]
    public async Task Avahi_and_our_server_resolve_instance_and_host_name_conflicts_either_way()
    {
        await using var lan = await NamespaceLan.CreateAsync(hosts: 2);

        // Avahi holds our host name for its own host: ours must become <label>-2 (RFC 6762 section 9).
        await using var avahi = await AvahiPeer.StartAsync(lan, 2, OurHostLabel);

        // Avahi holds "Taken" first: our server probes, hears Avahi defend it, and advertises "Taken (2)".
        await using var publish = avahi.Run("avahi-publish-service", "Taken", "_localws._tcp", "9000", "path=/ws", "v=1");
        await publish.WaitForLineContainingAsync("Established under name 'Taken'");
        await using var second = lan.StartLws(1, "serve", "--host", Ours, "--port", "8080", "--interface", Ours, "--detail", "name=Taken", "--duration", "60");
        await second.WaitForLineContainingAsync("advertising \"Taken (2)\"");

        // We hold "Ours first": Avahi's own publisher hears us defend it and renames itself ("#2" is Avahi's way).
        await using var first = lan.StartLws(1, "serve", "--host", Ours, "--port", "8081", "--interface", Ours, "--detail", "name=Ours first", "--duration", "60");
        await first.WaitForLineContainingAsync("advertising \"Ours first\"");
        await using var late = avahi.Run("avahi-publish-service", "Ours first", "_localws._tcp", "9001", "path=/ws", "v=1");
        await late.WaitForLineContainingAsync("Established under name 'Ours first #2'");

        // Avahi sees all four, ours under the renamed host.
        await using var browse = avahi.Run("avahi-browse", "--resolve", "--terminate", "--parsable", "_localws._tcp");
        Assert.Equal(0, await browse.WaitForExitAsync());
        var hostPattern = Regex.Escape(OurHostLabel) + @"-2\.local";
        Assert.Matches($"""=;eth0;IPv4;{Parsable("Taken (2)")};_localws\._tcp;local;{hostPattern};[0-9a-f.:]+;8080;""", browse.Output);
        Assert.Matches($"""=;eth0;IPv4;{Parsable("Ours first")};_localws\._tcp;local;{hostPattern};[0-9a-f.:]+;8081;""", browse.Output);
        Assert.Matches($@"=;eth0;IPv4;{Parsable("Taken")};_localws\._tcp;local;[^;]+;[0-9a-f.:]+;9000;", browse.Output);
        Assert.Matches($@"=;eth0;IPv4;{Parsable("Ours first #2")};_localws\._tcp;local;[^;]+;[0-9a-f.:]+;9001;", browse.Output);
    }
}
