using System.Diagnostics;
using System.Globalization;

namespace VkD.Tests.Distributed;

/// <summary>
/// Two "machines" on this one: network namespaces joined by a veth pair with addresses on a private /24, a hostfile
/// naming them by address, and an rsh agent (what mpirun calls instead of ssh) that enters the other namespace, with
/// its own host name (a UTS namespace), to start Open MPI's daemon there. Ranks in different namespaces share no
/// network, so their traffic goes over TCP across the veth link, as between nodes.
/// </summary>
internal sealed class NamespacePair : IDisposable
{
    private readonly List<string> _namespaces = [];

    private NamespacePair(string dir)
    {
        try
        {
            var id = Environment.ProcessId % 200;
            var tag = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            Subnet = $"10.231.{id}";
            string[] names = [$"vkdA{tag}", $"vkdB{tag}"];
            foreach (var ns in names)
            {
                Ip("netns", "add", ns);
                _namespaces.Add(ns);
            }
            Ip("link", "add", $"vkda{tag}", "netns", names[0], "type", "veth", "peer", "name", $"vkdb{tag}", "netns", names[1]);
            string[] links = [$"vkda{tag}", $"vkdb{tag}"];
            for (var i = 0; i < 2; i++)
            {
                Ip("-n", names[i], "addr", "add", $"{Subnet}.{i + 1}/24", "dev", links[i]);
                Ip("-n", names[i], "link", "set", links[i], "up");
                Ip("-n", names[i], "link", "set", "lo", "up");
            }
            Hostfile = Path.Combine(dir, "hosts");
            File.WriteAllText(Hostfile, $"{Subnet}.1 slots=1\n{Subnet}.2 slots=1\n");
            Agent = Path.Combine(dir, "netns-agent.sh");
            File.WriteAllText(Agent, $$"""
                #!/bin/sh
                # mpirun's rsh agent for two network namespaces, called as ssh would be: [options] HOST COMMAND...
                while [ "${1#-}" != "$1" ]; do shift; done
                host=$1; shift
                case $host in
                  {{Subnet}}.1) ns={{names[0]}}; name=vkd-node-a;;
                  {{Subnet}}.2) ns={{names[1]}}; name=vkd-node-b;;
                  *) echo "netns agent: unknown host $host" >&2; exit 1;;
                esac
                exec ip netns exec $ns unshare --uts /bin/sh -c "hostname $name; $*"
                """.Replace("\r", "", StringComparison.Ordinal));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            First = names[0];
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The two nodes' /24 (without the last byte).</summary>
    public string Subnet { get; }

    /// <summary>Hostfile naming both nodes by address.</summary>
    public string Hostfile { get; }

    /// <summary>The rsh agent script.</summary>
    public string Agent { get; }

    /// <summary>The namespace mpirun runs in (node A).</summary>
    public string First { get; }

    /// <summary>The launcher flags that run a job over both nodes, TCP only.</summary>
    public IReadOnlyList<string> LaunchFlags =>
        ["--nnodes", "2", "--nproc_per_node", "1", "--hostfile", Hostfile, "--iface", $"{Subnet}.0/24", "--mca", $"plm_rsh_agent={Agent}", "--mca", "btl=self,tcp"];

    /// <summary>Makes the pair, or returns why it cannot be made here.</summary>
    public static (NamespacePair? Pair, string? Why) TryCreate(string dir)
    {
        if ((MpiJobs.FindOnPath("ip") is null && !File.Exists("/usr/sbin/ip")) || MpiJobs.FindOnPath("unshare") is null)
        {
            return (null, "network namespaces need Linux with ip (iproute2) and unshare (util-linux)");
        }
        try
        {
            return (new NamespacePair(dir), null);
        }
        catch (InvalidOperationException e)
        {
            return (null, $"network namespaces cannot be made here (needs root / CAP_NET_ADMIN): {e.Message}");
        }
    }

    /// <summary>The command line that runs <c>vkd</c> inside node A.</summary>
    public IReadOnlyList<string> InFirst(IEnumerable<string> vkdArgs) => ["netns", "exec", First, MpiJobs.Vkd(), .. vkdArgs];

    /// <summary>Runs <c>vkd</c> inside node A to the end (a hang guard, not a timing check).</summary>
    public (int ExitCode, string Output) RunVkd(IEnumerable<string> vkdArgs, int limitSeconds = 600)
    {
        var psi = new ProcessStartInfo(IpPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in InFirst(vkdArgs))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = new VkdProcess(Process.Start(psi)!);
        Assert.True(p.Process.WaitForExit(limitSeconds * 1000), $"the two-node job did not finish in {limitSeconds} s:\n{p.Output}");
        p.Process.WaitForExit();
        return (p.Process.ExitCode, p.Output);
    }

    public void Dispose()
    {
        // Deleting a namespace deletes its end of the veth pair, and so the pair.
        foreach (var ns in _namespaces)
        {
            try
            {
                Ip("netns", "del", ns);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    private static string IpPath => MpiJobs.FindOnPath("ip") ?? "/usr/sbin/ip";

    private static void Ip(params string[] args)
    {
        var psi = new ProcessStartInfo(IpPath) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {error.Trim()}");
        }
    }
}
