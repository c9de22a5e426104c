using System.Net;
using System.Net.Sockets;
using ClP2p.Api.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace ClP2p.Api.Tests;

/// <summary>A port another process holds is recognised by the type Kestrel throws, not by its message.</summary>
public sealed class PortInUseTests
{
    [Fact]
    public async Task Kestrel_binding_a_held_port_is_described_as_port_in_use()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var app = builder.Build();

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());

        string? line = CommandRunner.DescribeEnvironmentFailure(ex);
        Assert.NotNull(line);
        Assert.Contains("another process holds the port", line, StringComparison.Ordinal);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), line, StringComparison.Ordinal);
    }
}
