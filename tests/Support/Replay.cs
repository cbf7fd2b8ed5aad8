using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// `pulumi up` of a stack with its droplets and its remote steps played for real on test
/// droplets (<see cref="Droplets"/>): the program runs under the mocks, where DigitalOcean's
/// part boots a test droplet on the user data the program gave it, and the command provider's
/// part runs each remote step over SSH as pulumi-command does (the connection's host, port, user
/// and pinned host key; the command text; stdin), its real stdout flowing on to the steps that
/// read it (a join token to its join). The engine's order is the runtime's own: a resource is
/// registered only when every resource it depends on has returned (pulumi-dotnet
/// Deployment.Prepare awaits each dependency's URN), and at most <see cref="Parallel"/> steps run
/// at once (the engine's --parallel slots, held until a command's script exits; pulumi
/// pkg/cmd/pulumi/operations). Among ready steps it promises no order, so each waits a seeded
/// random while before taking a slot: another seed, another order.
/// The load balancer is nginx's stream proxy on the mirror host, forwarding 6443 and the SSH
/// relay's 2222 to the control-plane nodes as DigitalOcean's does (ApiLoadBalancer.cs).
/// </summary>
public sealed class Replay
{
    private readonly Droplets _droplets;
    private readonly SemaphoreSlim _slots;
    private readonly Random _random;
    private readonly ConcurrentQueue<string> _ran = new();
    private readonly ConcurrentDictionary<string, string> _failures = new();
    private readonly ConcurrentDictionary<string, string> _outputs = new();

    public Replay(Droplets droplets, int parallel = 8, int seed = 1)
    {
        _droplets = droplets;
        Parallel = parallel;
        _slots = new SemaphoreSlim(parallel);
        _random = new Random(seed);
    }

    public int Parallel { get; }

    /// <summary>The steps that ran to success, in the order they finished.</summary>
    public IReadOnlyList<string> Ran => [.. _ran];

    /// <summary>The remote steps that ran to success (not the Kubernetes objects, which every `up` applies again here).</summary>
    public IReadOnlyList<string> RanSteps => [.. _ranSteps];

    private readonly ConcurrentQueue<string> _ranSteps = new();

    /// <summary>What each step that succeeded printed (its last run).</summary>
    public IReadOnlyDictionary<string, string> Outputs => _outputs;

    /// <summary>Each failed step with what it printed.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    /// <summary>The node names of the droplets, in the droplets' order (node1 is the first droplet).</summary>
    public required IReadOnlyList<string> Nodes { get; init; }

    /// <summary>
    /// Every step runs again on the next `up`, whether its inputs changed or not (as after
    /// `pulumi up --replace` of them all, without their deletes): the idempotence check.
    /// </summary>
    public bool RunEveryStep { get; set; }

    /// <summary>
    /// One `pulumi up` with the stack's config and these settings, against the state the last one
    /// left (the steps' inputs and outputs, the stack's outputs) and the droplets as they are. As
    /// the engine does (pulumi pkg/resource/deploy/step_generator.go), a step whose inputs are
    /// unchanged is kept and not run (SameStep); one whose triggers changed is replaced, its
    /// delete run first (DeleteBeforeReplace); one otherwise changed is updated (pulumi-command
    /// runs its update command, or create again when it has none); and when the update has
    /// succeeded, each step the program no longer has is deleted, the last created first, and a
    /// droplet it no longer has is destroyed. A failed update keeps what it completed.
    /// </summary>
    /// <param name="targets">
    /// `pulumi up --target` for each: URNs or globs, "**" any run of characters and "*" any but
    /// ':' (pulumi pkg/resource/deploy/deployment.go, UrnTargets), matched against
    /// urn:pulumi:STACK::do-k8s-ha::TYPE::NAME (a real URN puts the parents' types before TYPE,
    /// which a pattern starting with "**::" matches alike). A resource not targeted keeps its
    /// state and runs nothing (step_generator.go: a SameStep from the old state, or a skipped
    /// create), and only targeted resources are deleted; the stack's outputs are written (the
    /// root stack is always targeted). Null: every resource.
    /// </param>
    public async Task<StackResult> UpAsync(IReadOnlyDictionary<string, string> settings, string stack = "dev", IReadOnlyList<string>? targets = null)
    {
        _targets = targets is null ? null : [.. targets.Select(UrnMatcher)];
        _stack = stack;
        // The TLS provider plans with the time the update runs at.
        Tls.Now = DateTimeOffset.UtcNow;
        _failures.Clear();
        _registered.Clear();
        _registeredDroplets.Clear();
        var config = StackRun.StackConfig(stack);
        config["do-k8s-ha:vpcCidr"] = $"{TestHosts.Subnet}.0/24";
        config["do-k8s-ha:sshPublicKey"] = File.ReadAllText(_droplets.OperatorKey + ".pub").Trim();
        config["do-k8s-ha:sshPrivateKey"] = File.ReadAllText(_droplets.OperatorKey);
        config["do-k8s-ha:adminCidrs"] = $"[\"{TestHosts.Subnet}.0/24\"]";
        foreach (var (key, value) in settings)
        {
            config[key] = value;
        }
        var mocks = new ClusterMocks
        {
            PublicIpFor = ip => ip,
            LoadBalancerAddress = _droplets.Mirror.Address,
            CreateDroplet = Boot,
            // A droplet the update does not target keeps the id the state holds.
            DropletId = node => Targeted(DropletType, node) || !_bootedGeneration.TryGetValue(node, out var booted) ? DropletId(node) : DropletId(node, booted),
            SpacesKeyPair = SpacesKey ?? new ClusterMocks().SpacesKeyPair,
            // DigitalOcean's list: the droplets running, with the tags they were made with.
            AccountDroplets = () => _bootedGeneration.Select(d => new AccountDroplet(DropletId(d.Key, d.Value), d.Key, _bootedTags[d.Key])),
            RunRemoteCommand = Run,
            ApplyKubernetes = Apply,
            PreviousOutputs = _previousOutputs,
            PreviousInputs = _stateInputs,
            Tls = Tls,
        };
        StackResult result;
        try
        {
            result = await StackRun.RunAsync(stack, config, mocks);
        }
        finally
        {
            // The update ends when the steps it started have: a failed registration ends the
            // program's run at once, but the engine waits for the operations in flight.
            while (Interlocked.Read(ref _inFlight) > 0)
            {
                await Task.Delay(200);
            }
        }
        // The outputs are the program's, written before the engine deletes what it no longer
        // declares (pulumi deployment_executor.go): a failed delete leaves them written.
        _previousOutputs = await StackRun.OutputsOf(result);
        _stateInputs = _stateInputs.SetItems(mocks.StateInputs.Where(r => Targeted(r.Key[..r.Key.IndexOf("::", StringComparison.Ordinal)], r.Key[(r.Key.IndexOf("::", StringComparison.Ordinal) + 2)..])));
        foreach (var gone in _state.Values.Where(s => !_registered.ContainsKey(s.Name) && Targeted(CommandType, s.Name)).OrderByDescending(s => s.Order))
        {
            DeleteStep(gone);
        }
        foreach (var node in _bootedGeneration.Keys.Where(n => !_registeredDroplets.ContainsKey(n) && Targeted(DropletType, n)).ToList())
        {
            _droplets.PowerOff(Host(node));
            _bootedGeneration.TryRemove(node, out _);
        }
        return result;
    }

    private const string DropletType = "digitalocean:index/droplet:Droplet";
    private const string CommandType = "command:remote:Command";
    private IReadOnlyList<System.Text.RegularExpressions.Regex>? _targets;
    private string _stack = "dev";

    /// <summary>The Spaces key pair the provider makes (the test's S3 server's), for a stack with a snapshot bucket.</summary>
    public (string AccessKey, string SecretKey)? SpacesKey { get; init; }

    /// <summary>A pattern as the engine compiles it: each "**" any characters, each "*" any but ':', the rest literal.</summary>
    private static System.Text.RegularExpressions.Regex UrnMatcher(string pattern) =>
        new("^" + string.Join(".*", pattern.Split("**").Select(part => string.Join("[^:]*", part.Split('*').Select(System.Text.RegularExpressions.Regex.Escape)))) + "$");

    private bool Targeted(string type, string name) =>
        _targets is null || type.StartsWith("pulumi:providers:", StringComparison.Ordinal)
        || _targets.Any(t => t.IsMatch($"urn:pulumi:{_stack}::do-k8s-ha::{type}::{name}"));

    /// <summary>The next `up` makes a new droplet in this node's place (a new id: every step of the node runs again).</summary>
    public void ReplaceDroplet(string node) => _generation[node] = _generation.GetValueOrDefault(node) + 1;

    /// <summary>The node's droplet dies: nothing on it runs or answers any more.</summary>
    public void Kill(string node) => _droplets.PowerOff(Host(node));

    /// <summary>The TLS provider of this replay's stack: its state, and the renewal windows a test opens.</summary>
    public TlsStandIn Tls { get; } = new();

    private TestHost Host(string node) => _droplets[Nodes.ToList().IndexOf(node)];

    private string DropletId(string node) => DropletId(node, _generation.GetValueOrDefault(node));

    private static string DropletId(string node, int generation) => ClusterMocks.DropletIdOf(node, generation);

    /// <summary>A step as the state holds it: its inputs (connection, commands, stdin, triggers) and stdout.</summary>
    private sealed record StepState(string Name, ImmutableDictionary<string, object> Inputs, string InputsJson, string Stdout, long Order);

    private readonly ConcurrentDictionary<string, StepState> _state = new();
    private readonly ConcurrentDictionary<string, bool> _registered = new();
    private readonly ConcurrentDictionary<string, bool> _registeredDroplets = new();
    private readonly ConcurrentDictionary<string, int> _generation = new();

    /// <summary>The droplet inputs whose change replaces a droplet.</summary>
    private static readonly string[] ForceNew = ["image", "region", "userData", "sshKeys", "vpcUuid"];

    /// <summary>Each droplet's ForceNew inputs when it was made.</summary>
    private readonly Dictionary<string, string> _madeFrom = [];

    /// <summary>Every resource's inputs in the stack's state, for the engine's ignoreChanges.</summary>
    private ImmutableDictionary<string, ImmutableDictionary<string, object>> _stateInputs = ImmutableDictionary<string, ImmutableDictionary<string, object>>.Empty;

    private static string Text(object? value) => value switch
    {
        string text => text,
        System.Collections.IEnumerable list => "[" + string.Join(",", list.Cast<object?>().Select(Text)) + "]",
        _ => value?.ToString() ?? "",
    };

    /// <summary>How many times the node's droplet was made anew (0: the first droplet).</summary>
    public int Generation(string node) => _generation.GetValueOrDefault(node);

    /// <summary>The stack's outputs as the last `up` wrote them (what `pulumi stack output` prints).</summary>
    public IReadOnlyDictionary<string, object> StackOutputs => _previousOutputs;
    private readonly ConcurrentDictionary<string, int> _bootedGeneration = new();
    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _bootedTags = new();
    private readonly ConcurrentDictionary<string, string> _size = new();
    private readonly ConcurrentQueue<string> _resized = new();

    /// <summary>The droplets resized (powered off and on again), in order.</summary>
    public IReadOnlyList<string> Resized => [.. _resized];
    private IReadOnlyDictionary<string, object> _previousOutputs = ImmutableDictionary<string, object>.Empty;
    private long _order;

    private static string Canonical(ImmutableDictionary<string, object> inputs) =>
        System.Text.Json.JsonSerializer.Serialize(new SortedDictionary<string, object>(inputs, StringComparer.Ordinal));

    private static string? Text(ImmutableDictionary<string, object> inputs, string key) =>
        inputs.TryGetValue(key, out var value) && value is string { Length: > 0 } text ? text : null;

    private void DeleteStep(StepState step)
    {
        if (Text(step.Inputs, "delete") is { } delete)
        {
            Execute($"{step.Name} (delete)", step.Inputs, delete);
        }
        _state.TryRemove(step.Name, out _);
    }

    private void Boot(string name, string address, ImmutableDictionary<string, object> inputs)
    {
        var host = Host(name);
        Assert.That(host.Address, Is.EqualTo(address), $"droplet {name} at {address}");
        _registeredDroplets[name] = true;
        if (!Targeted(DropletType, name))
        {
            return;
        }
        _bootedTags[name] = [.. ((System.Collections.IEnumerable)inputs["tags"]).Cast<object>().Select(t => (string)t)];
        var userData = inputs.TryGetValue("userData", out var data) ? (string)data : "";
        // What DigitalOcean makes a droplet from (ForceNew in terraform-provider-digitalocean
        // droplet/resource_droplet.go): another value is another droplet.
        var madeFrom = string.Join("\n", ForceNew.Select(k => $"{k}={(inputs.TryGetValue(k, out var v) ? Text(v) : "")}"));
        lock (_bootedGeneration)
        {
            if (_madeFrom.TryGetValue(name, out var was) && was != madeFrom && _bootedGeneration.ContainsKey(name))
            {
                ReplaceDroplet(name);
            }
            _madeFrom[name] = madeFrom;
        }
        var generation = _generation.GetValueOrDefault(name);
        lock (_bootedGeneration)
        {
            var size = inputs.TryGetValue("size", out var sized) ? Text(sized) : "";
            if (_bootedGeneration.TryGetValue(name, out var booted) && booted == generation)
            {
                // A new size: DigitalOcean resizes the droplet powered off and starts it again
                // (the provider's resize; size is not ForceNew), with what was enabled.
                if (_size.TryGetValue(name, out var was) && was != size)
                {
                    _droplets.Reboot(host);
                    _resized.Enqueue(name);
                }
                _size[name] = size;
                return;
            }
            _size[name] = size;
            if (_bootedGeneration.ContainsKey(name))
            {
                // The droplet is replaced (DeleteBeforeReplace): the steps its old id triggered are
                // replaced with it, their deletes (the node's departure) run before it goes.
                var oldId = $"\"{DropletId(name, booted)}\"";
                foreach (var step in _state.Values.Where(s => s.InputsJson.Contains(oldId, StringComparison.Ordinal)).OrderByDescending(s => s.Order))
                {
                    DeleteStep(step);
                }
                _droplets.Replace(host);
            }
            _droplets.Boot(host, name, userData);
            _bootedGeneration[name] = generation;
            if (_cniInstalled)
            {
                InstallCni(host);
            }
        }
    }

    /// <summary>The kubeconfig the program gave its Kubernetes provider (the stack's exported one), as a file.</summary>
    public string ProviderKubeconfig => Path.Combine(_droplets.Hosts.Dir, "provider-kubeconfig");
    private volatile bool _cniInstalled;

    /// <summary>
    /// The Kubernetes provider's part: objects are written to the cluster through the provider's
    /// kubeconfig from the operator's host (the exported kubeconfig, its server the balancer), as
    /// the provider writes them — by PUT, where the provider uses server-side apply, which the
    /// fake API server does not serve. Helm charts are not rendered here: of the releases only
    /// Calico's effect on the nodes is played, the CNI configuration its calico-node DaemonSet
    /// installs on every node (projectcalico cni-plugin's install), which is what makes a
    /// kubelet report its node Ready.
    /// </summary>
    private void Apply(string type, string name, ImmutableDictionary<string, object> inputs)
    {
        if (!Targeted(type, name))
        {
            return;
        }
        switch (type)
        {
            case "pulumi:providers:kubernetes":
                File.WriteAllText(ProviderKubeconfig, (string)inputs["kubeconfig"]);
                break;
            case "kubernetes:helm.sh/v3:Release" when name.EndsWith("-calico", StringComparison.Ordinal):
                _cniInstalled = true;
                foreach (var node in _bootedGeneration.Keys)
                {
                    InstallCni(Host(node));
                }
                break;
            case "kubernetes:yaml/v2:ConfigGroup":
                Put(name, (string)inputs["yaml"]);
                break;
            case var typed when typed.Count(c => c == ':') == 2 && !typed.Contains("helm.sh", StringComparison.Ordinal):
                Put(name, System.Text.Json.JsonSerializer.Serialize(inputs));
                break;
        }
    }

    private void InstallCni(TestHost host) =>
        _droplets.Exec(host, """mkdir -p /etc/cni/net.d && echo '{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[{"type":"calico"}]}' > /etc/cni/net.d/10-calico.conflist""");

    // Each document PUT to its object's path (kind → plural as the API names these kinds).
    private const string PutObjects = """
        import json, ssl, sys, tempfile, urllib.request, base64, yaml
        config = yaml.safe_load(open(sys.argv[1]))
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        files = []
        for key in ("client-certificate-data", "client-key-data"):
            f = tempfile.NamedTemporaryFile(delete=False); f.write(base64.b64decode(user[key])); f.close(); files.append(f.name)
        ctx.load_cert_chain(*files)
        for obj in yaml.safe_load_all(sys.stdin):
            if not obj:
                continue
            group_version, kind, meta = obj["apiVersion"], obj["kind"], obj["metadata"]
            base = "/api/v1" if group_version == "v1" else "/apis/" + group_version
            scope = "" if kind in ("ClusterRole", "ClusterRoleBinding", "Namespace", "Node") else "/namespaces/" + meta.get("namespace", "default")
            path = f"{base}{scope}/{kind.lower()}s/{meta['name']}"
            req = urllib.request.Request(cluster["server"] + path, data=json.dumps(obj).encode(), method="PUT", headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, context=ctx, timeout=20).read()
            print("applied", path)
        """;

    private void Put(string name, string documents)
    {
        if (!File.Exists(ProviderKubeconfig))
        {
            throw new InvalidOperationException($"{name}: no Kubernetes provider was registered first");
        }
        var (exit, stdout, stderr) = _droplets.Hosts.Exec(_droplets.Operator, "/usr/bin/python3", ["-c", PutObjects, ProviderKubeconfig], documents);
        if (exit != 0)
        {
            _failures[name] = stdout + stderr;
            throw new InvalidOperationException($"{name}: the Kubernetes provider could not apply it:\n{stdout}\n{stderr}");
        }
        _ran.Enqueue(name);
    }

    private string Run(string name, ImmutableDictionary<string, object> inputs)
    {
        _registered[name] = true;
        if (!Targeted(CommandType, name))
        {
            // Kept as the state holds it, or not made at all.
            return _state.TryGetValue(name, out var kept) ? kept.Stdout : "";
        }
        var json = Canonical(inputs);
        string? command = Text(inputs, "create");
        var keptStdout = "";
        if (!RunEveryStep && _state.TryGetValue(name, out var old))
        {
            if (old.InputsJson == json)
            {
                _outputs[name] = old.Stdout;
                return old.Stdout;
            }
            var triggersChanged = System.Text.Json.JsonSerializer.Serialize(old.Inputs.GetValueOrDefault("triggers"))
                != System.Text.Json.JsonSerializer.Serialize(inputs.GetValueOrDefault("triggers"));
            if (triggersChanged)
            {
                DeleteStep(old);
            }
            else
            {
                command = Text(inputs, "update") ?? command;
                // An update keeps the previous outputs until a command replaces them, so one
                // with nothing to run keeps its stdout (remote/commandController.go, Update).
                keptStdout = old.Stdout;
            }
        }
        var stdout = command is null ? keptStdout : Execute(name, inputs, command);
        _state[name] = new StepState(name, inputs, json, stdout, Interlocked.Increment(ref _order));
        return stdout;
    }

    /// <summary>OpenSSH's own failure (255) before any session: no connection, or the handshake cut.</summary>
    private static bool DialFailed(int exit, string stdout, string stderr) =>
        exit == 255 && stdout.Length == 0 && new[] { "connect to host", "kex_exchange_identification", "Connection closed by", "Connection reset" }
            .Any(m => stderr.Contains(m, StringComparison.Ordinal));

    /// <summary>One command over SSH as pulumi-command runs it, holding one of the engine's slots.</summary>
    private string Execute(string name, ImmutableDictionary<string, object> inputs, string command)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            return ExecuteCounted(name, inputs, command);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private long _inFlight;

    private string ExecuteCounted(string name, ImmutableDictionary<string, object> inputs, string command)
    {
        int wait;
        lock (_random)
        {
            wait = _random.Next(0, 400);
        }
        Thread.Sleep(wait);
        _slots.Wait();
        try
        {
            // After a step fails the engine starts no other (pulumi pkg/resource/deploy/step_executor.go:
            // an error cancels the update; steps already running finish).
            if (!_failures.IsEmpty)
            {
                throw new InvalidOperationException($"{name}: not started, the update has failed");
            }
            var connection = (IDictionary<string, object>)inputs["connection"];
            var address = (string)connection["host"];
            var port = connection.TryGetValue("port", out var p) ? Convert.ToInt32(p, System.Globalization.CultureInfo.InvariantCulture) : 22;
            var hostKey = connection.TryGetValue("hostKey", out var k) ? (string)k : null;
            // pulumi-command dials again after each failed dial (connect and SSH handshake) until
            // dialErrorLimit failures, waiting 100 ms × 1.5ⁿ up to 5 s between (remote/connection.go
            // dialWithRetry; components/SshDial.cs); a failure after the session opened is the step's.
            var limit = connection.TryGetValue("dialErrorLimit", out var l) ? Convert.ToInt32(l, System.Globalization.CultureInfo.InvariantCulture) : 10;
            var delay = TimeSpan.FromMilliseconds(100);
            var key = connection.TryGetValue("privateKey", out var pk) ? (string)pk : null;
            var (exit, stdout, stderr) = _droplets.SshTo(address, port, hostKey, command, (string)inputs["stdin"], (string)connection["user"], privateKey: key);
            for (var failedDials = 1; DialFailed(exit, stdout, stderr) && failedDials < limit; failedDials++)
            {
                Thread.Sleep(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 5000));
                (exit, stdout, stderr) = _droplets.SshTo(address, port, hostKey, command, (string)inputs["stdin"], (string)connection["user"], privateKey: key);
            }
            if (exit != 0)
            {
                var droplet = _droplets.All.FirstOrDefault(h => h.Address == address);
                _failures[name] = stdout + stderr + (droplet is null ? "" : $"\n-- {droplet.Name}'s logs --\n{_droplets.Logs(droplet)}");
                // As pulumi-command fails a step (remote/commandOutputs.go): the command and what it printed.
                throw new InvalidOperationException($"{name}: Process exited with status {exit}: running \"{command}\":\n{stdout}\n{stderr}");
            }
            _ran.Enqueue(name);
            _ranSteps.Enqueue(name);
            _outputs[name] = stdout;
            return stdout;
        }
        finally
        {
            _slots.Release();
        }
    }
}
