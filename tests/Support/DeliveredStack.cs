namespace DoK8sHa.Tests.Support;

/// <summary>A remote step as the engine hands it to pulumi-command: where, as whom, what, and its stdin.</summary>
public sealed record DeliveredStep(string Name, string Host, string User, string HostKey, string Command, string Stdin);

/// <summary>
/// A stack run under the mocks for test droplets: its VPC is the droplets' network, so every
/// address the program renders (etcd's URLs, certificates, the API servers) is a droplet's, and
/// its SSH key is the operator's. What it registered is then what the droplets get: each
/// droplet's user data and each remote step, byte for byte.
/// </summary>
public sealed class DeliveredStack
{
    private DeliveredStack(StackResult result) => Result = result;

    public StackResult Result { get; }

    public static async Task<DeliveredStack> RunAsync(Droplets droplets, IReadOnlyDictionary<string, string> settings, string stack = "dev", (string AccessKey, string SecretKey)? spacesKey = null)
    {
        var config = StackRun.StackConfig(stack);
        // The mocks give a droplet the address of its index in the VPC (node1 .2, node2 .3, …),
        // as TestHosts numbers its hosts.
        config["do-k8s-ha:vpcCidr"] = $"{TestHosts.Subnet}.0/24";
        config["do-k8s-ha:sshPublicKey"] = File.ReadAllText(droplets.OperatorKey + ".pub").Trim();
        config["do-k8s-ha:sshPrivateKey"] = File.ReadAllText(droplets.OperatorKey);
        foreach (var (key, value) in settings)
        {
            config[key] = value;
        }
        return new DeliveredStack(await StackRun.RunAsync(stack, config, spacesKey is { } pair ? new ClusterMocks { PublicIpFor = ip => ip, SpacesKeyPair = pair } : new ClusterMocks { PublicIpFor = ip => ip }));
    }

    /// <summary>The user data of the node's droplet.</summary>
    public string UserData(string node) => Droplet(node).Input("userData");

    /// <summary>The public host key pinned for the node (its droplet's user data installs it).</summary>
    public string HostKey(string node) => Step($"{node}.bootstrapped").HostKey;

    /// <summary>The remote step of that name, as pulumi-command would run it at creation.</summary>
    public DeliveredStep Step(string name)
    {
        var step = Result.Mocks.Named(name);
        Assert.That(step.Type, Is.EqualTo("command:remote:Command"), name);
        var connection = (IDictionary<string, object>)step.Inputs["connection"];
        return new DeliveredStep(name, (string)connection["host"], (string)connection["user"], (string)connection["hostKey"],
            (string)step.Inputs["create"], (string)step.Inputs["stdin"]);
    }

    /// <summary>Names of the remote steps that run at creation and match the predicate, in name order.</summary>
    public IReadOnlyList<string> Steps(Func<string, bool> matches) =>
        [.. Result.Mocks.OfType("command:remote:Command").Where(r => r.Inputs.ContainsKey("create") && matches(r.Name)).Select(r => r.Name)];

    /// <summary>
    /// Runs a step on the droplet its connection names, as pulumi-command runs it. The mocks
    /// knew no droplet's own host key (ClusterMocks.MadeHostKey stands for it): a step that pins
    /// it pins what the droplet's `.host-key` step really printed, as the engine would have
    /// passed that step's stdout on, so that step must have run first.
    /// </summary>
    public (int ExitCode, string Stdout, string Stderr) Run(Droplets droplets, string name, int timeoutSeconds = 300)
    {
        var step = Step(name);
        var host = droplets.All.Single(h => h.Address == step.Host);
        var hostKey = step.HostKey;
        var node = Result.Mocks.OfType("command:remote:Command").Select(r => r.Name)
            .Where(n => n.EndsWith(".host-key", StringComparison.Ordinal)).Select(n => n[..^".host-key".Length])
            .FirstOrDefault(n => ClusterMocks.MadeHostKey(n) == hostKey.Trim());
        if (node is not null)
        {
            hostKey = droplets.MadeHostKeys.GetValueOrDefault(host.Name) ?? throw new InvalidOperationException($"{name} pins the key {node}'s droplet makes: run its .host-key step first");
        }
        var run = droplets.Ssh(host, hostKey, step.Command, step.Stdin, step.User, timeoutSeconds);
        if (name.EndsWith(".host-key", StringComparison.Ordinal) && run.ExitCode == 0 && DoK8sHa.Scripts.Render.ParseHostKey(run.Stdout) is { } made)
        {
            droplets.MadeHostKeys[host.Name] = made;
        }
        return run;
    }

    private MockedResource Droplet(string node) =>
        Result.Mocks.OfType("digitalocean:index/droplet:Droplet").Single(d => d.Name == node);
}
