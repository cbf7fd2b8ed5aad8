using System.Diagnostics;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered API-server proxy config in a real nginx, on test hosts: a node's proxy in front of
/// two "API servers" (small HTTP servers that say who they are), as in the seed's nginx-proxy.
/// </summary>
[NonParallelizable]
public class NginxProxyTests
{
    private TestHosts _hosts = null!;
    private TestHost Proxy => _hosts[0];

    [SetUp]
    public void StartHosts()
    {
        Repo.RequireTool("nginx", "apt-get install nginx libnginx-mod-stream");
        Repo.RequireTool("python3", "apt-get install python3");
        Repo.RequireTool("curl", "apt-get install curl");
        _hosts = TestHosts.Create(3);
    }

    [TearDown]
    public void StopHosts() => _hosts?.Dispose();

    private Process StartBackend(TestHost host, string name)
    {
        var root = Directory.CreateDirectory(Path.Combine(host.Dir, "www")).FullName;
        File.WriteAllText(Path.Combine(root, "who"), name);
        var process = _hosts.Start(host, "backend", "python3", "-m", "http.server", "6443", "--bind", host.Address, "--directory", root);
        _hosts.WaitForPort(host, host.Address, 6443);
        return process;
    }

    private string Config(params string[] upstreams)
    {
        var config = Render.ApiProxyConfig("node3", upstreams, listen: "127.0.0.1:6443", pidFile: Path.Combine(Proxy.Dir, "nginx.pid"));
        var path = Path.Combine(Proxy.Dir, "nginx.conf");
        File.WriteAllText(path, config);
        return path;
    }

    private void StartProxy(string config)
    {
        var test = _hosts.Exec(Proxy, "nginx", ["-t", "-c", config]);
        Assert.That(test.ExitCode, Is.Zero, $"nginx -t rejected the rendered config:\n{test.Stderr}");
        _hosts.Start(Proxy, "nginx", "nginx", "-c", config, "-g", "daemon off;");
        // Not a probe connection: through the proxy it would reach an upstream, and a failed one
        // would mark that upstream down (max_fails 1) before the requests the test measures.
        _hosts.WaitForListener(Proxy, 6443);
    }

    private (int Exit, string Body, double Seconds) Get() =>
        ParseCurl(_hosts.Exec(Proxy, "curl", ["-s", "--max-time", "10", "-w", "\n%{time_total}", "http://127.0.0.1:6443/who"]));

    private static (int, string, double) ParseCurl((int ExitCode, string Stdout, string Stderr) r)
    {
        var lines = r.Stdout.Split('\n');
        return (r.ExitCode, string.Join('\n', lines[..^1]), double.Parse(lines[^1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Waits until the proxy holds this many connections to its upstreams (port 6443 on a backend).</summary>
    private void WaitUntilProxyHoldsUpstreamConnections(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_hosts.Exec(Proxy, "ss", ["-tnH", "state", "established", "dport = :6443"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Count(l => !l.Contains("127.0.0.1:6443", StringComparison.Ordinal)) < count)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the held connection never reached an upstream");
            Thread.Sleep(100);
        }
    }

    [Test]
    public void RenderedConfigPassesNginxTest()
    {
        var config = Config($"{_hosts[1].Address}:6443", $"{_hosts[2].Address}:6443");
        var result = _hosts.Exec(Proxy, "nginx", ["-t", "-c", config]);
        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
        Assert.That(result.Stderr, Does.Contain("test is successful"));
    }

    [Test]
    public void BalancesOverEveryApiServerAndSurvivesTheLossOfOne()
    {
        var first = StartBackend(_hosts[1], "apiserver-1");
        StartBackend(_hosts[2], "apiserver-2");
        StartProxy(Config($"{_hosts[1].Address}:6443", $"{_hosts[2].Address}:6443"));

        var seen = Enumerable.Range(0, 10).Select(_ => Get()).ToList();
        Assert.That(seen.Select(s => s.Exit), Is.All.Zero);
        Assert.That(seen.Select(s => s.Body).Distinct(), Is.EquivalentTo(new[] { "apiserver-1", "apiserver-2" }), "both take requests");

        // least_conn, not round-robin: with a connection held open to one API server (a watch,
        // as kubelets keep), every new connection goes to the other.
        _hosts.Start(Proxy, "watch", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6443; sleep 120");
        WaitUntilProxyHoldsUpstreamConnections(1);
        var whileHeld = Enumerable.Range(0, 6).Select(_ => Get()).ToList();
        Assert.That(whileHeld.Select(s => s.Exit), Is.All.Zero);
        Assert.That(whileHeld.Select(s => s.Body).Distinct().Count(), Is.EqualTo(1), "each new connection goes to the API server with fewer: " + string.Join(",", whileHeld.Select(s => s.Body)));

        // The seed's experiment: one API server dies, the proxy keeps serving from the other.
        TestHosts.Stop(first);
        var after = Enumerable.Range(0, 10).Select(_ => Get()).ToList();
        Assert.That(after.Select(s => s.Exit), Is.All.Zero, _hosts.Log(Proxy, "nginx"));
        Assert.That(after.Select(s => s.Body), Is.All.EqualTo("apiserver-2"));
    }

    [Test]
    public void GivesUpOnAnUnansweringApiServerAfterOneSecond()
    {
        // Alone, a silent upstream fails the connection after proxy_connect_timeout.
        StartProxy(Config($"{TestHosts.Unreachable}:6443"));
        var (exit, _, seconds) = Get();
        Assert.That(exit, Is.Not.Zero);
        Assert.That(seconds, Is.InRange(0.9, 1.9), "proxy_connect_timeout 1s");
    }

    [Test]
    public void MovesPastAnUnansweringApiServerWithinOneSecond()
    {
        StartBackend(_hosts[2], "apiserver-2");
        StartProxy(Config($"{TestHosts.Unreachable}:6443", $"{_hosts[2].Address}:6443"));

        var results = Enumerable.Range(0, 4).Select(_ => Get()).ToList();
        Assert.That(results.Select(r => r.Exit), Is.All.Zero);
        Assert.That(results.Select(r => r.Body), Is.All.EqualTo("apiserver-2"));
        // The dead one was tried (nothing reached the proxy before these requests, and requests
        // alternate while no connection is open), and left after the 1 s connect timeout.
        Assert.That(results.Max(r => r.Seconds), Is.InRange(0.9, 1.9), "one request waits out proxy_connect_timeout 1s, then moves on");
    }
}
