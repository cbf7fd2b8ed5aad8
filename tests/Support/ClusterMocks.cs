using System.Collections.Concurrent;
using System.Collections.Immutable;
using Pulumi.Testing;

namespace DoK8sHa.Tests.Support;

/// <summary>A droplet as DigitalOcean's API lists it.</summary>
public sealed record AccountDroplet(string Id, string Name, IReadOnlyList<string> Tags, string CreatedAt = "2026-01-05T10:00:00Z");

/// <summary>A resource as the engine saw it: what the program asked for, and when.</summary>
public sealed record MockedResource(string Type, string Name, ImmutableDictionary<string, object> Inputs, int RegisteredAt, int CompletedAt);

/// <summary>
/// Pulumi mocks standing in for DigitalOcean and the command provider. A resource's registration
/// reaches the mock only after every resource it depends on has returned, so the recorded
/// order shows the program's dependency graph; <see cref="Barrier"/> proves independence.
/// </summary>
public sealed class ClusterMocks : IMocks
{
    public const string LoadBalancerIp = "198.51.100.10";

    private readonly ConcurrentDictionary<string, MockedResource> _resources = new();
    private int _clock;

    /// <summary>
    /// Resources matching the predicate are held until all <c>Count</c> of them have been registered.
    /// If one depended on another, the barrier could never fill: it times out and the test fails.
    /// </summary>
    public (Func<string, string, bool> Matches, int Count)? Barrier { get; init; }

    /// <summary>The key pair DigitalOcean makes for a Spaces key (a test's S3 server knows it).</summary>
    public (string AccessKey, string SecretKey) SpacesKeyPair { get; init; } = ("DO00MOCKSPACESKEY000", "mock/spaces+secret/key/0000000000000000000");

    /// <summary>
    /// Resources matching the predicate complete only after this long: whatever registers after
    /// one completed waited for it (a dependency), not for the engine's pace.
    /// </summary>
    public (Func<string, string, bool> Matches, TimeSpan For)? Hold { get; init; }

    private readonly TaskCompletionSource _barrierFull = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _barrierArrived;

    public bool BarrierTimedOut { get; private set; }

    private readonly ConcurrentBag<string> _duplicates = [];

    /// <summary>Resources registered twice: the engine would have stopped the update (StackRun fails on any).</summary>
    public IReadOnlyCollection<string> Duplicates => _duplicates;

    /// <summary>The stdin of a `.host-key` step that makes the droplet's key (not one that keeps its user data's).</summary>
    private static readonly string MakesHostKey = DoK8sHa.Scripts.Render.StepScript(("host-key", DoK8sHa.Scripts.Render.HostKey(true)));

    /// <summary>
    /// The SSH host key a mocked droplet makes for itself (host-key.sh): a well-formed ed25519
    /// public key, the same for a node in every run.
    /// </summary>
    public static string MadeHostKey(string node)
    {
        static byte[] Field(byte[] value) => [.. BitConverter.GetBytes(value.Length).Reverse(), .. value];
        var key = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("host key of " + node));
        return "ssh-ed25519 " + Convert.ToBase64String([.. Field(System.Text.Encoding.ASCII.GetBytes("ssh-ed25519")), .. Field(key)]);
    }

    /// <summary>The engine's marker of a value not known yet (pulumi-dotnet Serialization/Constants.cs).</summary>
    public const string Unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

    /// <summary>
    /// Resources whose outputs are not known in this run, as in the preview of an update that
    /// replaces or changes them: the engine answers their outputs as unknown.
    /// </summary>
    public IReadOnlySet<string> OutputsUnknown { get; init; } = new HashSet<string>();

    /// <summary>
    /// The TLS provider, and the certificates its state holds: shared by default, so two runs of
    /// the same config see the same certificates, as two updates of one stack do.
    /// </summary>
    public TlsStandIn Tls { get; init; } = SharedTls;

    /// <summary>What every kubeadm-certs step reports as its node's first kubeadm certificate's end.</summary>
    public const string KubeadmCertificatesEnd = "2027-01-10T12:00:00Z";

    private static readonly TlsStandIn SharedTls = new();

    /// <summary>
    /// The stack's outputs from its last update, as the engine's StackReference to the stack itself
    /// reads them from the backend (pulumi pkg/resource/deploy/builtins.go, readStackReference).
    /// Empty: a new stack.
    /// </summary>
    public IReadOnlyDictionary<string, object> PreviousOutputs { get; init; } = ImmutableDictionary<string, object>.Empty;

    /// <summary>The stacks read through a StackReference, by name.</summary>
    public IReadOnlyCollection<string> StackReferences => _stackReferences;

    private readonly ConcurrentBag<string> _stackReferences = [];

    public IReadOnlyCollection<MockedResource> Resources => _resources.Values.ToList();

    /// <summary>
    /// The inputs each resource had in the stack's state after the last update ("type::name"):
    /// the engine gives an input the program ignores (ignoreChanges) its old value, on an update
    /// and on a replacement alike (pulumi step_generator.go, processIgnoreChanges).
    /// </summary>
    public IReadOnlyDictionary<string, ImmutableDictionary<string, object>> PreviousInputs { get; init; } = ImmutableDictionary<string, ImmutableDictionary<string, object>>.Empty;

    private readonly ConcurrentDictionary<string, Pulumi.ResourceOptions> _options = new();

    /// <summary>A resource's options, as the engine receives them with its registration (StackRun.ProgramStack).</summary>
    public void RecordOptions(string type, string name, Pulumi.ResourceOptions options) => _options[$"{type}::{name}"] = options;

    /// <summary>The options the resource was registered with.</summary>
    public Pulumi.ResourceOptions OptionsOf(string type, string name) =>
        _options.TryGetValue($"{type}::{name}", out var options) ? options : throw new AssertionException($"no options recorded for {type} {name}");

    /// <summary>The state of this update, as the next one's <see cref="PreviousInputs"/>.</summary>
    public IReadOnlyDictionary<string, ImmutableDictionary<string, object>> StateInputs =>
        _resources.ToDictionary(kv => kv.Key, kv => kv.Value.Inputs);

    /// <summary>
    /// The public address DigitalOcean gives a droplet, from its VPC address; unset, one in
    /// 203.0.113.0/24 by name. The replay on test droplets reaches each at its one address.
    /// </summary>
    public Func<string, string>? PublicIpFor { get; init; }

    /// <summary>The load balancer's address (the replay's balancer is a test host).</summary>
    public string LoadBalancerAddress { get; init; } = LoadBalancerIp;

    /// <summary>
    /// DigitalOcean's part played for real: called when a droplet is registered, with its name, its
    /// VPC address and its inputs (ignored ones at their old values), before the engine hears
    /// that it exists (the replay boots a test droplet there, or replaces one).
    /// </summary>
    public Action<string, string, ImmutableDictionary<string, object>>? CreateDroplet { get; init; }

    /// <summary>The id DigitalOcean gives a droplet of that name (a replaced droplet has a new one); unset, <see cref="DropletIdOf"/>.</summary>
    public Func<string, string>? DropletId { get; init; }

    /// <summary>
    /// Called for the Kubernetes provider and each resource it manages (type, name, inputs), as the
    /// provider would create them: the replay applies them to its cluster.
    /// </summary>
    public Action<string, string, ImmutableDictionary<string, object>>? ApplyKubernetes { get; init; }

    /// <summary>
    /// The command provider's part played for real: called with a remote step's name and inputs
    /// when the engine creates it, returns its stdout; an exception fails the step, and the
    /// engine then registers nothing that depends on it. Unset, a step "runs" in no time.
    /// </summary>
    public Func<string, ImmutableDictionary<string, object>, string>? RunRemoteCommand { get; init; }

    public IEnumerable<MockedResource> OfType(string type) => Resources.Where(r => r.Type == type).OrderBy(r => r.Name, StringComparer.Ordinal);

    /// <summary>The cloud or command resource of that name (components share names with their droplets).</summary>
    public MockedResource Named(string name) =>
        _resources.Values.SingleOrDefault(r => r.Name == name && !r.Type.StartsWith("do-k8s-ha:", StringComparison.Ordinal))
        ?? throw new AssertionException($"no resource named {name}; have: {string.Join(", ", _resources.Values.Select(r => r.Name).Order())}");

    /// <summary>
    /// A control-plane node has admin.conf once a control-plane step has run (join-token.sh
    /// checks for it). On a later update the engine keeps an unchanged step's outputs from the
    /// last run (pulumi pkg/resource/deploy/step.go, SameStep), so the first node's token stays
    /// empty there too.
    /// </summary>
    private bool ClusterExists =>
        _resources.Values.Any(r => r.Type == "command:remote:Command" && r.Name.StartsWith("control-plane-", StringComparison.Ordinal) && !r.Name.Contains('.', StringComparison.Ordinal));

    public async Task<(string? id, object state)> NewResourceAsync(MockResourceArgs args)
    {
        var registeredAt = Interlocked.Increment(ref _clock);
        var type = args.Type ?? "";
        var name = args.Name ?? "";

        if (Barrier is { } barrier && barrier.Matches(type, name))
        {
            if (Interlocked.Increment(ref _barrierArrived) == barrier.Count)
            {
                _barrierFull.TrySetResult();
            }
            if (await Task.WhenAny(_barrierFull.Task, Task.Delay(TimeSpan.FromSeconds(20))) != _barrierFull.Task)
            {
                BarrierTimedOut = true;
            }
        }

        if (Hold is { } hold && hold.Matches(type, name))
        {
            await Task.Delay(hold.For);
        }

        var inputs = args.Inputs;
        if (_options.TryGetValue($"{type}::{name}", out var options) && options.IgnoreChanges.Count > 0
            && PreviousInputs.TryGetValue($"{type}::{name}", out var old))
        {
            foreach (var ignored in options.IgnoreChanges)
            {
                inputs = old.TryGetValue(ignored, out var was) ? inputs.SetItem(ignored, was) : inputs.Remove(ignored);
            }
        }
        var state = ImmutableDictionary.CreateBuilder<string, object>();
        state.AddRange(inputs);
        switch (type)
        {
            case "digitalocean:index/droplet:Droplet":
                state["ipv4AddressPrivate"] = PrivateIp(name, _vpcCidr);
                state["ipv4Address"] = PublicIpFor?.Invoke((string)state["ipv4AddressPrivate"]) ?? PublicIp(name);
                CreateDroplet?.Invoke(name, (string)state["ipv4AddressPrivate"], inputs);
                state["urn"] = name;
                break;
            case "digitalocean:index/vpc:Vpc":
                // Registered before any droplet (each droplet names it), as DigitalOcean assigns in it.
                _vpcCidr = (string)inputs["ipRange"];
                break;
            case "digitalocean:index/loadBalancer:LoadBalancer":
                state["ip"] = LoadBalancerAddress;
                break;
            case "digitalocean:index/spacesBucket:SpacesBucket":
                // The provider's outputs (pulumi-digitalocean sdk/dotnet/SpacesBucket.cs): Endpoint
                // without a scheme, the bucket's own host name.
                state["endpoint"] = $"{inputs["region"]}.digitaloceanspaces.com";
                state["bucketDomainName"] = $"{inputs["name"]}.{inputs["region"]}.digitaloceanspaces.com";
                break;
            case "digitalocean:index/spacesKey:SpacesKey":
                // DigitalOcean makes the pair; its secret is a secret output (SpacesKey.cs AdditionalSecretOutputs).
                state["accessKey"] = SpacesKeyPair.AccessKey;
                state["secretKey"] = SpacesKeyPair.SecretKey;
                break;
            case "digitalocean:index/sshKey:SshKey":
                state["fingerprint"] = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa";
                break;
            case "command:local:Command":
                state["stdout"] = "";
                state["stderr"] = "";
                break;
            case "pulumi:pulumi:StackReference":
                // Read, not created: the id is the referenced stack's name.
                _stackReferences.Add(args.Id ?? "");
                state["name"] = args.Id ?? "";
                state["outputs"] = PreviousOutputs;
                state["secretOutputNames"] = ImmutableArray<string>.Empty;
                break;
            case var tls when TlsStandIn.Handles(tls):
                state.AddRange(Tls.Outputs(tls, name, inputs).Where(o => !inputs.ContainsKey(o.Key)));
                break;
            case var k8s when ApplyKubernetes is not null && (k8s.StartsWith("kubernetes:", StringComparison.Ordinal) || k8s == "pulumi:providers:kubernetes"):
                await Task.Run(() => ApplyKubernetes(k8s, name, inputs));
                break;
            case "command:remote:Command" when RunRemoteCommand is not null:
                // Every step, one without a create command too: the replay keeps it in its state
                // for the delete command it runs when the step goes.
                state["stdout"] = await Task.Run(() => RunRemoteCommand(name, inputs));
                state["stderr"] = "";
                break;
            case "command:remote:Command":
                // The health gate's report, as cluster-health.sh prints it.
                state["stdout"] = name == "health-check"
                    ? "cluster is healthy\nscheduler-leader=node1\ncontroller-manager-leader=node2\n"
                    // join-token.sh prints the token it minted, [a-z0-9]{6}.[a-z0-9]{16}, or
                    // nothing on a node with no admin.conf: before any control-plane step of a new
                    // stack has run (the first node's token, minted before it creates the cluster).
                    : name.EndsWith(".token", StringComparison.Ordinal) ? (ClusterExists ? Token(name) : "")
                    // kubeadm-certs.sh's last line: when the node's first kubeadm certificate ends.
                    : name.StartsWith("kubeadm-certs-", StringComparison.Ordinal) ? $"kubeadm-certificates-end={KubeadmCertificatesEnd}\n"
                    // host-key.sh: the key a droplet made, or that it keeps its user data's.
                    : name.EndsWith(".host-key", StringComparison.Ordinal) ? ((string)inputs["stdin"] == MakesHostKey
                        ? $"host-key: {MadeHostKey(name[..^".host-key".Length])}\n"
                        : "host-key: kept (this droplet keeps the key its user data installed)\n")
                    : $"ran {name}";
                state["stderr"] = "";
                break;
        }

        if (OutputsUnknown.Contains(name))
        {
            foreach (var key in state.Keys.ToList())
            {
                state[key] = Unknown;
            }
        }

        // The engine refuses a second resource with the same URN (type and name under the same
        // parent types); Deployment.TestAsync alone would let the second overwrite the first.
        if (!_resources.TryAdd($"{type}::{name}", new MockedResource(type, name, inputs, registeredAt, Interlocked.Increment(ref _clock))))
        {
            _duplicates.Add($"{type} {name}");
            throw new InvalidOperationException($"Duplicate resource URN: a {type} named {name} is registered twice");
        }
        return (type == DropletType ? DropletId?.Invoke(name) ?? DropletIdOf(name) : $"{name}-id", state.ToImmutable());
    }

    /// <summary>The join token the mocks' token step of that name prints: the same for the same name.</summary>
    public static string Token(string step)
    {
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(step))).ToLowerInvariant();
        return $"{hash[..6]}.{hash[6..22]}";
    }

    /// <summary>The public address the mocks give the droplet of that name.</summary>
    public static string PublicIp(string droplet) => $"203.0.113.{AddressIndex(droplet)}";

    /// <summary>
    /// The VPC address the mocks give the droplet of that name, in the VPC's range: the default
    /// 10.240.0.0/20 unless another is given (prod's 10.241.0.0/20).
    /// </summary>
    public static string PrivateIp(string droplet, string vpcCidr = "10.240.0.0/20")
    {
        var network = System.Net.IPAddress.Parse(vpcCidr.Split('/')[0]).GetAddressBytes();
        network[3] = (byte)AddressIndex(droplet);
        return new System.Net.IPAddress(network).ToString();
    }

    /// <summary>The range of the VPC the program created; droplets get their addresses in it.</summary>
    private volatile string _vpcCidr = "10.240.0.0/20";

    /// <summary>Addresses follow names, not registration order, so two runs give a node the same IPs.</summary>
    private static int AddressIndex(string name)
    {
        var match = System.Text.RegularExpressions.Regex.Match(name, @"^(node|cp|etcd|worker)(\d+)$");
        if (!match.Success)
        {
            return 240 + (int)((uint)name.Aggregate(17, (h, c) => (h * 31) + c) % 10);
        }
        var n = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        return match.Groups[1].Value switch
        {
            "node" => n + 1,
            "cp" => 10 + n,
            "etcd" => 20 + n,
            _ => 30 + n,
        };
    }

    /// <summary>The id DigitalOcean gives a droplet: a number (getDroplets lists it as one). A replaced droplet (generation 1, 2, …) has a new one.</summary>
    public static string DropletIdOf(string name, int generation = 0) =>
        (10_000_000 + ((uint)name.Aggregate(17, (h, c) => (h * 31) + c) % 1_000_000 * 100) + generation).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The droplets DigitalOcean holds, as its API lists them; unset: the droplets of the last
    /// update's state (<see cref="PreviousInputs"/>, at the ids the mocks gave them) and <see cref="ForeignDroplets"/>.
    /// </summary>
    public Func<IEnumerable<AccountDroplet>>? AccountDroplets { get; init; }

    /// <summary>Droplets this stack's state does not hold: another cluster's, or a droplet left by hand.</summary>
    public IReadOnlyList<AccountDroplet> ForeignDroplets { get; init; } = [];

    private const string DropletType = "digitalocean:index/droplet:Droplet";

    private IEnumerable<AccountDroplet> StateDroplets() => PreviousInputs
        .Where(kv => kv.Key.StartsWith(DropletType + "::", StringComparison.Ordinal))
        .Select(kv => new AccountDroplet(DropletIdOf(kv.Key[(DropletType.Length + 2)..]), (string)kv.Value["name"],
            [.. ((System.Collections.IEnumerable)kv.Value["tags"]).Cast<object>().Select(t => (string)t)]));

    public Task<object> CallAsync(MockCallArgs args)
    {
        if (args.Token != "digitalocean:index/getDroplets:getDroplets")
        {
            return Task.FromResult<object>(args.Args);
        }
        // As terraform-provider-digitalocean's datalist (v2.96.0, the one pulumi-digitalocean
        // pins): every droplet of the account, 200 a page to the last (droplet/droplets.go
        // getDigitalOceanDroplets; GPU droplets only with gpus = true), kept when each filter
        // matches (filter.go applyFilters); on a set field (tags) a value matches when any
        // element equals it (values.go valueMatches), and exact ignores case (strings.EqualFold);
        // with all = false (the default) one of the values is enough.
        var filters = args.Args.TryGetValue("filters", out var given) ? ((System.Collections.IEnumerable)given).Cast<ImmutableDictionary<string, object>>().ToList() : [];
        if (filters.Any(f => (string)f["key"] != "tags" || f.ContainsKey("all") || f.ContainsKey("matchBy")))
        {
            throw new NotSupportedException("the mocks' getDroplets filters on tags only, exactly");
        }
        var droplets = (AccountDroplets?.Invoke() ?? StateDroplets().Concat(ForeignDroplets))
            .Where(d => filters.All(f => ((System.Collections.IEnumerable)f["values"]).Cast<object>().Any(v => d.Tags.Contains((string)v, StringComparer.OrdinalIgnoreCase))))
            .Select(d => (object)ImmutableDictionary<string, object>.Empty
                .Add("id", int.Parse(d.Id, System.Globalization.CultureInfo.InvariantCulture))
                .Add("name", d.Name)
                .Add("tags", d.Tags.ToImmutableArray())
                .Add("createdAt", d.CreatedAt));
        return Task.FromResult<object>(ImmutableDictionary<string, object>.Empty
            .Add("id", "droplets")
            .Add("droplets", droplets.ToImmutableArray()));
    }

    private readonly ConcurrentDictionary<string, ImmutableDictionary<string, Pulumi.Output<object?>>> _componentOutputs = new();

    /// <summary>
    /// What each component (and the stack) registered as its outputs, by URN: Pulumi's MockMonitor
    /// hands every RegisterResourceOutputs call to the mocks (pulumi-dotnet Testing/MockMonitor.cs,
    /// RegisterResourceOutputsAsync); the engine stores them as the component's outputs in the state.
    /// </summary>
    public Task RegisterResourceOutputs(MockRegisterResourceOutputsRequest args)
    {
        _componentOutputs[args.Urn] = args.Outputs;
        return Task.CompletedTask;
    }

    /// <summary>The stack registered its outputs: what the engine records for the next update.</summary>
    public bool StackOutputsRegistered => _componentOutputs.Keys.Any(urn => urn.Contains("::pulumi:pulumi:Stack::", StringComparison.Ordinal));

    /// <summary>The outputs the component of that type (e.g. "do-k8s-ha:index:ClusterNode") and name registered.</summary>
    public ImmutableDictionary<string, Pulumi.Output<object?>> ComponentOutputs(string type, string name)
    {
        // A URN ends "<parent types>$<type>::<name>", or "::<type>::<name>" at the root (pulumi pkg/resource/urn.go).
        var matches = _componentOutputs.Where(kv => kv.Key.EndsWith($"::{type}::{name}", StringComparison.Ordinal) || kv.Key.EndsWith($"${type}::{name}", StringComparison.Ordinal)).ToList();
        return matches.Count == 1
            ? matches[0].Value
            : throw new AssertionException($"{matches.Count} registrations of outputs by {type} {name}; have: {string.Join(", ", _componentOutputs.Keys.Order())}");
    }
}

/// <summary>Reading a mocked remote step the way its command runs it.</summary>
public static class MockedResourceExtensions
{
    /// <summary>
    /// What a remote step runs at create, update or delete: its stdin, which the fixed runner
    /// (its command's text) executes; "" when it runs nothing then. Other inputs as they are.
    /// </summary>
    public static string Input(this MockedResource r, string key)
    {
        var raw = r.Inputs.TryGetValue(key, out var v) ? v?.ToString() ?? "" : "";
        if (r.Type == "command:remote:Command" && key is "create" or "update" or "delete")
        {
            if (raw.Length == 0)
            {
                return "";
            }
            Assert.That(raw, Is.EqualTo(DoK8sHa.Scripts.Render.StepRunner), $"{r.Name} {key}: a remote step's command is the fixed runner");
            return r.Inputs.TryGetValue("stdin", out var stdin) ? stdin?.ToString() ?? "" : "";
        }
        return raw;
    }
}
