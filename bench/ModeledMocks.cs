using System.Collections.Immutable;
using Pulumi.Testing;

namespace DoK8sHa.Bench;

/// <summary>
/// Pulumi mocks in which every resource takes its modeled time. A resource reaches the mock only
/// once everything it depends on has returned, so the run's wall time is the program's critical
/// path. With <paramref name="slots"/>, at most that many operations run at once, each holding
/// its slot for its whole modeled time, as the engine's --parallel does (pulumi
/// pkg/cmd/pulumi/operations defaultParallel, 4 × CPUs; a step holds its slot until its script
/// exits); null: unbounded.
/// </summary>
public sealed class ModeledMocks(string certificatePem, bool delays, int? slots = null) : IMocks
{
    private static readonly string SeedKeyPem = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256).ExportPkcs8PrivateKeyPem();
    private readonly SemaphoreSlim? _slots = slots is { } p ? new SemaphoreSlim(p, p) : null;
    private int _droplets;
    private readonly System.Collections.Concurrent.ConcurrentBag<(string Type, string Name, bool HasDeleteCommand)> _registered = [];
    private readonly System.Collections.Concurrent.ConcurrentBag<Span> _spans = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> _dropletActive = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> _downloadsEnd = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>One resource's modeled operation: when it reached the engine (its dependencies done), when it got a slot, when it ended; in modeled seconds.</summary>
    public sealed record Span(string Name, double Arrived, double Started, double Ended);

    /// <summary>Every delayed operation's span.</summary>
    public IReadOnlyCollection<Span> Spans => _spans;

    /// <summary>Every resource registered: its type, its name, and whether it has a delete command.</summary>
    public IReadOnlyCollection<(string Type, string Name, bool HasDeleteCommand)> Registered => _registered;

    public async Task<(string? id, object state)> NewResourceAsync(MockResourceArgs args)
    {
        var type = args.Type ?? "";
        var name = args.Name ?? "";
        if (delays)
        {
            var seconds = (double)ModeledDurations.For(type, name);
            var arrived = Now();
            if (_slots is not null)
            {
                await _slots.WaitAsync();
            }
            var started = Now();
            // cloud-init runs from the droplet's boot whether or not a step waits for it: a wait
            // that gets its slot late finds it further along (ModeledDurations.BootWait).
            if (ModeledDurations.BootWait.NodeOf(name) is { } node && _dropletActive.TryGetValue(node, out var active))
            {
                seconds = Math.Max(ModeledDurations.BootWait.MinimumSeconds, active + ModeledDurations.BootWait.SecondsAfterActive - started);
            }
            // The releases step's dials wait for sshd from the droplet's boot too; the downloads
            // it starts then run on the node, until node setup's wait.
            if (ModeledDurations.BootWait.DownloadsOf(name) is { } downloading && _dropletActive.TryGetValue(downloading, out var up))
            {
                seconds += Math.Max(0, up + ModeledDurations.BootWait.SshdSeconds - started);
                _downloadsEnd[downloading] = started + seconds + ModeledDurations.Downloads.Seconds(downloading);
            }
            if (ModeledDurations.Downloads.WaitedForBy(name) is { } waiting && _downloadsEnd.TryGetValue(waiting, out var downloaded))
            {
                seconds += Math.Max(0, downloaded - started);
            }
            try
            {
                if (seconds > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(seconds * ModeledDurations.MillisecondsPerSecond));
                }
            }
            finally
            {
                var ended = Now();
                _slots?.Release();
                _spans.Add(new Span(name, arrived, started, ended));
                if (type == "digitalocean:index/droplet:Droplet")
                {
                    _dropletActive[name] = ended;
                }
            }
        }

        _registered.Add((type, name, args.Inputs.TryGetValue("delete", out var delete) && delete is string { Length: > 0 }));
        var state = ImmutableDictionary.CreateBuilder<string, object>();
        state.AddRange(args.Inputs);
        switch (type)
        {
            case "digitalocean:index/droplet:Droplet":
                var n = Interlocked.Increment(ref _droplets);
                state["ipv4Address"] = $"203.0.{n / 250}.{(n % 250) + 2}";
                state["ipv4AddressPrivate"] = $"10.240.{n / 250}.{(n % 250) + 2}";
                break;
            case "digitalocean:index/loadBalancer:LoadBalancer":
                state["ip"] = "198.51.100.10";
                break;
            case "digitalocean:index/sshKey:SshKey":
                state["fingerprint"] = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa";
                break;
            case var tls when tls.StartsWith("tls:index/", StringComparison.Ordinal):
                // The TLS provider works locally in milliseconds; one real certificate stands for
                // all (the program reads the CA's public key for kubeadm's discovery hash).
                state["certPem"] = certificatePem;
                state["certRequestPem"] = "csr";
                state["privateKeyPem"] = "key";
                state["publicKeyPem"] = "public key";
                // Seeds of the Secrets encryption keys are read as PKCS #8.
                state["privateKeyPemPkcs8"] = SeedKeyPem;
                state["privateKeyOpenssh"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nhost key\n-----END OPENSSH PRIVATE KEY-----\n";
                state["publicKeyOpenssh"] = "ecdsa-sha2-nistp256 AAAA\n";
                state["validityEndTime"] = "2027-01-01T00:00:00Z";
                break;
            case "pulumi:pulumi:StackReference":
                // A new stack: its last update exported nothing.
                state["outputs"] = ImmutableDictionary<string, object>.Empty;
                state["secretOutputNames"] = ImmutableArray<string>.Empty;
                break;
            case "command:remote:Command":
                state["stdout"] = name == "health-check" ? "scheduler-leader=node1\ncontroller-manager-leader=node1\n"
                    // host-key.sh's last line: the key the droplet made, which later steps pin.
                    : name.EndsWith(".host-key", StringComparison.Ordinal) ? "host-key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEQF6C6rxmqJ+y+YXJpTUWQ4uQbaEyi0ZKb8Tw1uzD0M\n"
                    : "";
                state["stderr"] = "";
                break;
        }
        return ($"{name}-id", state.ToImmutable());
    }

    private double Now() => _clock.Elapsed.TotalMilliseconds / ModeledDurations.MillisecondsPerSecond;

    // The update's first call lists the droplets on the cluster's tag (AccountDroplets): a new
    // stack's tag has none. Every other call answers with its arguments.
    public Task<object> CallAsync(MockCallArgs args) => Task.FromResult<object>(args.Token == "digitalocean:index/getDroplets:getDroplets"
        ? System.Collections.Immutable.ImmutableDictionary<string, object>.Empty.Add("droplets", System.Collections.Immutable.ImmutableArray<object>.Empty)
        : args.Args);
}
