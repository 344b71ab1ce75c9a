using System.Net;
using System.Net.NetworkInformation;

namespace LocalWebSocket.Tests.Discovery;

// Reads this machine's interface list only: nothing is sent anywhere.
public sealed class LocalNetworkInterfacesTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("fe80::1%2")]
    public void An_address_stands_for_itself(string text)
    {
        Assert.Equal(IPAddress.Parse(text), LocalNetworkInterfaces.Resolve(text));
    }

    [Fact]
    public void An_interface_name_stands_for_its_IPv4_address()
    {
        var loopback = NetworkInterface.GetAllNetworkInterfaces().First(n => n.NetworkInterfaceType == NetworkInterfaceType.Loopback);

        var address = LocalNetworkInterfaces.Resolve(loopback.Name);

        Assert.Equal(IPAddress.Loopback, address);
    }

    [Fact]
    public void An_unknown_name_is_refused_with_the_names_there_are()
    {
        var loopback = NetworkInterface.GetAllNetworkInterfaces().First(n => n.NetworkInterfaceType == NetworkInterfaceType.Loopback);

        var error = Assert.Throws<ArgumentException>(() => LocalNetworkInterfaces.Resolve("no-such-nic"));

        Assert.Equal("addressOrName", error.ParamName);
        Assert.StartsWith("'no-such-nic' is neither an IP address nor the name of an interface of this machine", error.Message, StringComparison.Ordinal);
        Assert.Contains(loopback.Name, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void A_blank_name_is_refused(string text)
    {
        Assert.Throws<ArgumentException>(() => LocalNetworkInterfaces.Resolve(text));
    }
}
