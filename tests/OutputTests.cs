using System.Collections;
using System.Collections.Immutable;
using DoK8sHa.Config;
using DoK8sHa.Tests.Support;
using Pulumi;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>What the stack exports, and how a bad configuration ends the run before anything is created. The whole program under Pulumi's mocks, with the dev and prod stack files.</summary>
public class OutputTests
{
    [Test]
    public async Task OutputsKubeconfigAsSecretWithTheLoadBalancerAsServer()
    {
        var result = await StackRun.SharedAsync("dev");
        var kubeconfig = result.Output<string>("kubeconfig");

        Assert.That(await Output.IsSecretAsync(kubeconfig), Is.True);
        Assert.That(await kubeconfig.ValueAsync(), Does.Contain($"server: https://{ClusterMocks.LoadBalancerIp}:6443").And.Contains("client-key-data: "));
        Assert.That(await result.Output<string>("apiEndpoint").ValueAsync(), Is.EqualTo($"https://{ClusterMocks.LoadBalancerIp}:6443"));
        // The load balancer's address is on the API servers' certificates.
        Assert.That(Input(result.Mocks.Named("control-plane-node1"), "create"), Does.Contain($"    - {ClusterMocks.LoadBalancerIp}"));
        var lb = result.Mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Single();
        Assert.That(Input(lb, "dropletTag"), Is.EqualTo($"{StackRun.ClusterName("dev")}-control-plane"));
        // Readiness, not a TCP connect: an API server that lost etcd still accepts connections.
        var check = (IDictionary<string, object>)lb.Inputs["healthcheck"];
        Assert.That((check["protocol"], check["path"], check["port"]), Is.EqualTo(("https", (object)"/readyz", (object)6443)));
    }

    // Any `pulumi up` in the kubeconfig's last 60 days renews it (docs/certificates.md): the
    // operators read when from the stack, in plain text, without decoding the secret.
    [Test]
    public async Task TheStackSaysWhenTheKubeconfigsCertificateExpires()
    {
        var result = await StackRun.SharedAsync("dev");
        var kubeconfig = await result.Output<string>("kubeconfig").ValueAsync();
        var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(
            kubeconfig.Split('\n').Single(l => l.TrimStart().StartsWith("client-certificate-data: ", StringComparison.Ordinal)).Split(": ")[1])));
        var expires = result.Output<string>("kubeconfigExpires");

        Assert.That(DateTimeOffset.Parse(await expires.ValueAsync(), System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(new DateTimeOffset(certificate.NotAfter.ToUniversalTime())));
        Assert.That(await Output.IsSecretAsync(expires), Is.False);
    }

    // When each control-plane node's first kubeadm certificate ends, as its kubeadm-certs step
    // printed it (ControlPlaneCertificates), in plain text.
    [Test]
    public async Task TheStackSaysWhenEachControlPlaneNodesKubeadmCertificatesEnd()
    {
        var result = await StackRun.SharedAsync("dev");
        var ends = result.Output<ImmutableDictionary<string, string>>("controlPlaneCertificates");

        Assert.That(await ends.ValueAsync(), Is.EquivalentTo(new Dictionary<string, string>
        {
            ["node1"] = ClusterMocks.KubeadmCertificatesEnd,
            ["node2"] = ClusterMocks.KubeadmCertificatesEnd,
        }));
        Assert.That(await Output.IsSecretAsync(ends), Is.False);
    }

    [Test]
    public async Task NodesOutputListsAddressesAndRoles()
    {
        var result = await StackRun.SharedAsync("dev");
        var nodes = await result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>("nodes").ValueAsync();

        Assert.That(nodes.Keys, Is.EquivalentTo(new[] { "node1", "node2", "node3" }));
        Assert.That(nodes["node2"]["privateIp"], Is.EqualTo("10.240.0.3"));
        Assert.That(nodes["node2"]["publicIp"], Is.EqualTo("203.0.113.3"));
        Assert.That((IEnumerable)nodes["node2"]["roles"], Is.EqualTo(new[] { "control-plane", "etcd", "worker" }));
        // The line an operator adds to known_hosts to reach the node with the program's own check:
        // the key the droplet made for itself, which its steps pin.
        Assert.That(nodes["node2"]["knownHosts"], Is.EqualTo($"203.0.113.3 {ClusterMocks.MadeHostKey("node2")}"));
        Assert.That(nodes["node2"]["hostKey"], Is.EqualTo("made-on-node"));
        Assert.That(await Output.IsSecretAsync(result.Output<string>("apiEndpoint")), Is.False);
        Assert.That(await Output.IsSecretAsync(result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>("nodes")), Is.False, "host public keys are no secret");
    }

    [Test]
    public async Task WithoutLoadBalancerTheKubeconfigPointsAtTheInitNode()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var result = await StackRun.RunAsync("dev", config);

        Assert.That(result.Mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer"), Is.Empty);
        Assert.That(await result.Output<string>("kubeconfig").ValueAsync(), Does.Contain("server: https://203.0.113.2:6443"));
        Assert.That(Input(result.Mocks.Named("control-plane-node1"), "create"), Does.Contain("    - 203.0.113.2"));
    }

    [Test]
    public void InvalidConfigFailsBeforeAnyResourceIsCreated()
    {
        var mocks = new ClusterMocks();
        var config = StackRun.WithNodes("""[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["etcd","master"]}]""");
        config.Remove("do-k8s-ha:sshPrivateKey");

        var error = Assert.CatchAsync(() => StackRun.RunAsync("dev", config, mocks));

        Assert.That(error!.ToString(), Does.Contain("do-k8s-ha:nodes: has no schedulable node")
            .And.Contains("do-k8s-ha:nodes[1].roles: 'master' is not a role")
            .And.Contains("do-k8s-ha:sshPrivateKey: is missing"));
        Assert.That(mocks.Resources.Where(r => r.Type != "pulumi:pulumi:Stack"), Is.Empty);
    }

    [Test]
    public void ConfigDefaultsParse() =>
        Assert.That(ConfigParser.Parse(k => k switch { "sshPublicKey" => StackRun.PublicKey, "adminCidrs" => """["203.0.113.0/24"]""", _ => null }, k => true, "dev", out _).Nodes, Has.Count.EqualTo(3));

    [Test]
    public void ABadConfigEndsTheRunWithItsMessageAloneAndNoStackTrace()
    {
        // pulumi-dotnet Deployment.Runner.cs prints a RunException as its message; any other
        // exception as "failed with an unhandled exception" and a stack trace.
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:region"] = "Mars";

        var message = StackRun.FailureOf(() => StackRun.RunAsync("dev", config));

        Assert.That(message, Does.Contain("do-k8s-ha:region: 'Mars' is not a DigitalOcean region slug"));
        Assert.That(message, Does.Not.Contain("unhandled exception").And.Not.Contain("   at "));
    }
}
