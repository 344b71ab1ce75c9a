using System.Net;
using LocalWebSocket.Discovery;
using LocalWebSocket.Internal;

namespace LocalWebSocket.Tests.Discovery;

/// <summary>Target parsing and subnet detection, computed from given interface lists: nothing is probed.</summary>
public sealed class ScanTargetTests
{
    [Fact]
    public void Dart_prefix_covers_hosts_1_to_254()
    {
        var target = ScanTarget.Parse("192.168.1");
        var hosts = target.Hosts().ToList();

        Assert.Equal(254, target.HostCount);
        Assert.Equal("192.168.1.1", hosts[0]);
        Assert.Equal("192.168.1.254", hosts[^1]);
    }

    [Theory]
    [InlineData("10.0.0.0/22", 1022, "10.0.0.1", "10.0.3.254")]
    [InlineData("10.0.1.77/24", 254, "10.0.1.1", "10.0.1.254")]
    [InlineData("172.16.5.4/30", 2, "172.16.5.5", "172.16.5.6")]
    [InlineData("172.16.5.4/31", 2, "172.16.5.4", "172.16.5.5")]
    [InlineData("172.16.5.4/32", 1, "172.16.5.4", "172.16.5.4")]
    [InlineData("10.0.0.0/20", 4094, "10.0.0.1", "10.0.15.254")]
    public void Cidr_blocks_exclude_network_and_broadcast(string text, int count, string first, string last)
    {
        var target = ScanTarget.Parse(text);
        var hosts = target.Hosts().ToList();

        Assert.Equal(count, target.HostCount);
        Assert.Equal(count, hosts.Count);
        Assert.Equal(first, hosts[0]);
        Assert.Equal(last, hosts[^1]);
    }

    [Theory]
    [InlineData("10.0.0.0/19")]
    [InlineData("10.0.0.0/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0/24")]
    [InlineData("fe80::1/64")]
    [InlineData("1:2")]
    public void Oversized_or_malformed_targets_are_refused(string text) =>
        Assert.Throws<FormatException>(() => ScanTarget.Parse(text));

    [Theory]
    [InlineData("192.168.1.10")]
    [InlineData("localhost")]
    [InlineData("kiosk-3.local")]
    [InlineData("::1")]
    public void Anything_else_is_a_single_host(string text) =>
        Assert.Equal([text], ScanTarget.Parse(text).Hosts());

    [Fact]
    public void Interface_subnets_skip_down_loopback_and_ipv6_and_narrow_large_subnets()
    {
        InterfaceAddress[] interfaces =
        [
            new(IPAddress.Parse("192.168.1.23"), 24, IsUp: true, IsLoopback: false),
            new(IPAddress.Parse("192.168.1.99"), 24, IsUp: true, IsLoopback: false),
            new(IPAddress.Parse("10.20.30.40"), 16, IsUp: true, IsLoopback: false),
            new(IPAddress.Parse("172.17.0.1"), 16, IsUp: false, IsLoopback: false),
            new(IPAddress.Parse("127.0.0.1"), 8, IsUp: true, IsLoopback: true),
            new(IPAddress.Parse("fe80::1"), 64, IsUp: true, IsLoopback: false),
            new(IPAddress.Parse("100.64.0.9"), 22, IsUp: true, IsLoopback: false),
        ];

        var targets = ScanTarget.FromInterfaces(interfaces, includeLoopback: false).Select(t => t.Description);
        var withLoopback = ScanTarget.FromInterfaces(interfaces, includeLoopback: true).Select(t => t.Description);

        Assert.Equal(["192.168.1.0/24", "10.20.30.0/24", "100.64.0.0/22"], targets);
        Assert.Equal(["192.168.1.0/24", "10.20.30.0/24", "127.0.0.0/24", "100.64.0.0/22"], withLoopback);
    }
}
