using System.Text;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>
/// Where every secret travels, for the dev and prod inventories with real key material: never in
/// a command's text (pulumi-command prints it when a step fails, and it is on the SSH command
/// line), and only in steps that keep no file on the node.
/// </summary>
public class SecretFlowTests
{
    private static IEnumerable<(string Name, string Value)> Secrets()
    {
        var pki = RealPki.Material;
        foreach (var (name, pem) in new[]
        {
            ("the cluster CA key", pki.CaKey), ("the front-proxy CA key", pki.FrontProxyCaKey), ("the etcd CA key", pki.EtcdCaKey),
            ("the API server's etcd client key", pki.ApiServerEtcdClientKey), ("the admin key", pki.AdminKey), ("the operator key", pki.OperatorKey),
            ("the service-account key", pki.ServiceAccountKey),
        })
        {
            // A line of the key's body, and the whole key as a kubeconfig embeds it (base64).
            yield return (name, pem.Split('\n')[2]);
            yield return ($"{name} (base64)", Convert.ToBase64String(Encoding.UTF8.GetBytes(pem.TrimEnd('\n') + "\n"))[..40]);
        }
        yield return ("the SSH private key", StackRun.PrivateKey.Split('\n')[1]);
    }

    private static string Text(MockedResource r, string key) => r.Inputs.TryGetValue(key, out var v) ? v?.ToString() ?? "" : "";

    [TestCase("dev")]
    [TestCase("prod")]
    public async Task NoSecretIsInACommandsText(string stack)
    {
        var mocks = (await StackRun.RunAsync(stack)).Mocks;

        foreach (var step in mocks.OfType(RemoteCommand))
        {
            foreach (var key in new[] { "create", "update", "delete" })
            {
                Assert.That(Text(step, key), Is.Empty.Or.EqualTo(Render.StepRunner), $"{step.Name} {key}: the command's text is the fixed runner");
            }
        }
    }

    [TestCase("dev")]
    [TestCase("prod")]
    public async Task AStepThatCarriesASecretKeepsNoFileOnTheNode(string stack)
    {
        var mocks = (await StackRun.RunAsync(stack)).Mocks;
        var carriers = 0;

        foreach (var step in mocks.OfType(RemoteCommand))
        {
            var stdin = Text(step, "stdin");
            foreach (var (secret, value) in Secrets())
            {
                if (stdin.Contains(value, StringComparison.Ordinal))
                {
                    carriers++;
                    Assert.That(stdin, Does.Contain("steps=$(mktemp -d /run/do-k8s-ha-steps.XXXXXX)").And.Not.Contain(Render.StepsDir), $"{step.Name} carries {secret} but keeps its scripts");
                    Assert.That(secret, Is.Not.EqualTo("the SSH private key"), $"{step.Name} sends the SSH key to a node");
                }
            }
        }
        Assert.That(carriers, Is.GreaterThan(0), "the PKI reaches the nodes somewhere: the search must find it");
    }

    [TestCase("dev")]
    [TestCase("prod")]
    public async Task AHostKeyIsInItsOwnDropletsUserDataAndNowhereElse(string stack)
    {
        var mocks = (await StackRun.RunAsync(stack)).Mocks;
        var droplets = mocks.OfType("digitalocean:index/droplet:Droplet").ToList();
        Assert.That(droplets, Is.Not.Empty);
        foreach (var droplet in droplets)
        {
            var node = Text(droplet, "name");
            var userData = Text(droplet, "userData");
            // The key's fourth line: its first lines are the format's header, the same for every key.
            var body = userData.Split('\n').SkipWhile(l => !l.Contains("BEGIN OPENSSH PRIVATE KEY", StringComparison.Ordinal)).ElementAt(3).Trim();
            Assert.That(body, Has.Length.GreaterThan(40), $"{node}'s user data carries its host key");
            var holders = mocks.Resources.Where(r => r.Inputs.Any(i => Flat(i.Value).Contains(body, StringComparison.Ordinal))).Select(r => $"{r.Type} {r.Name}").ToList();
            // The PrivateKey resource itself holds it as an output only; inputs name nothing else.
            Assert.That(holders, Is.EqualTo(new[] { $"digitalocean:index/droplet:Droplet {node}" }), $"{node}'s host key travels only to its own droplet");
        }
    }

    private static string Flat(object? value) => value switch
    {
        string s => s,
        IDictionary<string, object> d => string.Join("\n", d.Values.Select(Flat)),
        System.Collections.IEnumerable e => string.Join("\n", e.Cast<object>().Select(Flat)),
        _ => value?.ToString() ?? "",
    };

    private static List<MockedResource> StepsOn(ClusterMocks mocks, string node) =>
        [.. mocks.OfType(RemoteCommand).Where(s => s.Inputs["connection"] is IDictionary<string, object> c && c["host"].ToString() == ClusterMocks.PublicIp(node))];

    // Worker-only nodes: only the join token of their own join (minted per join, SecretFlow of JoinToken).
    [TestCase("prod", "worker1")]
    [TestCase("prod", "worker3")]
    public async Task AWorkerIsSentNoClusterCredential(string stack, string worker)
    {
        var mocks = (await StackRun.RunAsync(stack)).Mocks;
        var onWorker = StepsOn(mocks, worker);
        Assert.That(onWorker, Is.Not.Empty);

        foreach (var step in onWorker)
        {
            var stdin = Text(step, "stdin");
            foreach (var (secret, value) in Secrets())
            {
                Assert.That(stdin, Does.Not.Contain(value), $"{step.Name} sends {secret} to {worker}");
            }
        }
    }

    // An etcd-only node holds its member certificate and key, and nothing else of the PKI.
    [TestCase("prod", "etcd1")]
    [TestCase("prod", "etcd3")]
    public async Task AnEtcdNodeIsSentOnlyItsOwnMemberCredential(string stack, string etcd)
    {
        var run = await StackRun.RunAsync(stack);
        var pki = run.Resources.OfType<Components.ClusterPki>().Single();
        var onNode = StepsOn(run.Mocks, etcd);
        Assert.That(onNode.Select(s => s.Name), Does.Contain($"etcd-{etcd}.credentials"));

        var own = await pki.EtcdMember(etcd).ValueAsync();
        var others = new List<(string, string)>();
        foreach (var other in new[] { "etcd1", "etcd2", "etcd3" }.Where(n => n != etcd))
        {
            others.Add(($"{other}'s member key", (await pki.EtcdMember(other).ValueAsync()).Key.Split('\n')[2]));
        }
        Assert.That(Text(run.Mocks.Named($"etcd-{etcd}.credentials"), "stdin"), Does.Contain(own.Key.Split('\n')[2]));
        foreach (var step in onNode)
        {
            var stdin = Text(step, "stdin");
            foreach (var (secret, value) in Secrets().Concat(others))
            {
                Assert.That(stdin, Does.Not.Contain(value), $"{step.Name} sends {secret} to {etcd}");
            }
        }
    }
}
