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
    private readonly Random _order;
    private readonly ConcurrentQueue<string> _ran = new();
    private readonly ConcurrentDictionary<string, string> _failures = new();
    private readonly ConcurrentDictionary<string, string> _outputs = new();

    public Replay(Droplets droplets, int parallel = 8, int seed = 1)
    {
        _droplets = droplets;
        Parallel = parallel;
        _slots = new SemaphoreSlim(parallel);
        _order = new Random(seed);
    }

    public int Parallel { get; }

    /// <summary>The steps that ran to success, in the order they finished.</summary>
    public IReadOnlyList<string> Ran => [.. _ran];

    /// <summary>What each step that succeeded printed (its last run).</summary>
    public IReadOnlyDictionary<string, string> Outputs => _outputs;

    /// <summary>Each failed step with what it printed.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    /// <summary>The node names of the droplets, in the droplets' order (node1 is the first droplet).</summary>
    public required IReadOnlyList<string> Nodes { get; init; }

    /// <summary>
    /// One `pulumi up` with the stack's config and these settings; the droplets' state carries over
    /// to the next. The mocks keep no state between runs, so a second `up` runs every step again,
    /// as `pulumi up` does after `--replace` of them all, or after a failure for the steps it left.
    /// </summary>
    public async Task<StackResult> UpAsync(IReadOnlyDictionary<string, string> settings, string stack = "dev")
    {
        _failures.Clear();
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
            RunRemoteCommand = Run,
            ApplyKubernetes = Apply,
        };
        return await StackRun.RunAsync(stack, config, mocks);
    }

    private readonly ConcurrentDictionary<string, bool> _booted = new();

    private void Boot(string name, string address, string userData)
    {
        var host = _droplets.All.Single(h => h.Address == address);
        Assert.That(Nodes[_droplets.All.ToList().IndexOf(host)], Is.EqualTo(name), $"droplet {name} at {address}");
        if (_booted.TryAdd(name, true))
        {
            _droplets.Boot(host, name, userData);
            if (_cniInstalled)
            {
                InstallCni(host);
            }
        }
    }

    private string? _kubeconfig;

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
        switch (type)
        {
            case "pulumi:providers:kubernetes":
                _kubeconfig = (string)inputs["kubeconfig"];
                File.WriteAllText(ProviderKubeconfig, _kubeconfig);
                break;
            case "kubernetes:helm.sh/v3:Release" when name.EndsWith("-calico", StringComparison.Ordinal):
                _cniInstalled = true;
                foreach (var host in _droplets.All.Where(h => _booted.ContainsKey(Nodes[_droplets.All.ToList().IndexOf(h)])))
                {
                    InstallCni(host);
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
        var kubeconfig = Path.Combine(_droplets.Hosts.Dir, $"provider-kubeconfig-{name}");
        File.WriteAllText(kubeconfig, _kubeconfig ?? throw new InvalidOperationException($"{name}: no Kubernetes provider was registered first"));
        var (exit, stdout, stderr) = _droplets.Hosts.Exec(_droplets.Operator, "/usr/bin/python3", ["-c", PutObjects, kubeconfig], documents);
        if (exit != 0)
        {
            _failures[name] = stdout + stderr;
            throw new InvalidOperationException($"{name}: the Kubernetes provider could not apply it:\n{stdout}\n{stderr}");
        }
        _ran.Enqueue(name);
    }

    private string Run(string name, ImmutableDictionary<string, object> inputs)
    {
        int wait;
        lock (_order)
        {
            wait = _order.Next(0, 400);
        }
        Thread.Sleep(wait);
        _slots.Wait();
        try
        {
            var connection = (IDictionary<string, object>)inputs["connection"];
            var address = (string)connection["host"];
            var port = connection.TryGetValue("port", out var p) ? Convert.ToInt32(p, System.Globalization.CultureInfo.InvariantCulture) : 22;
            var hostKey = connection.TryGetValue("hostKey", out var k) ? (string)k : null;
            var (exit, stdout, stderr) = _droplets.SshTo(address, port, hostKey, (string)inputs["create"], (string)inputs["stdin"], (string)connection["user"]);
            if (exit != 0)
            {
                var droplet = _droplets.All.FirstOrDefault(h => h.Address == address);
                _failures[name] = stdout + stderr + (droplet is null ? "" : $"\n-- {droplet.Name}'s logs --\n{_droplets.Logs(droplet)}");
                // As pulumi-command fails a step (remote/commandOutputs.go): the command and what it printed.
                throw new InvalidOperationException($"{name}: Process exited with status {exit}: running \"{inputs["create"]}\":\n{stdout}\n{stderr}");
            }
            _ran.Enqueue(name);
            _outputs[name] = stdout;
            return stdout;
        }
        finally
        {
            _slots.Release();
        }
    }
}
