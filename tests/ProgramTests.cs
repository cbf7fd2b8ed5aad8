using System.Collections;
using System.Collections.Immutable;
using DoK8sHa.Components;
using DoK8sHa.Config;
using DoK8sHa.Tests.Support;
using Pulumi;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests;

/// <summary>The whole program under Pulumi's mocks, with the dev and prod stack files.</summary>
public class ProgramTests
{
    private const string Droplet = "digitalocean:index/droplet:Droplet";
    private const string RemoteCommand = "command:remote:Command";
    private const string LocalCommand = "command:local:Command";

    private static string Input(MockedResource r, string key) =>
        r.Inputs.ContainsKey(key) ? r.Input(key) : throw new AssertionException($"{r.Name} has no input {key}");

    private static IEnumerable<string> RemoteStepsOn(StackResult result, string node) =>
        result.Mocks.OfType(RemoteCommand).Where(c => c.Name.EndsWith($"-{node}", StringComparison.Ordinal) || c.Name.Contains($"-{node}-", StringComparison.Ordinal) || c.Name.StartsWith($"{node}-", StringComparison.Ordinal)).Select(c => c.Name);

    [Test]
    public async Task DevStackBuildsTheSeedTopology()
    {
        var result = await StackRun.RunAsync("dev");
        var mocks = result.Mocks;

        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "name")), Is.EqualTo(new[] { "node1", "node2", "node3" }));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "size")), Is.All.EqualTo("s-2vcpu-4gb"));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "region")), Is.All.EqualTo("lon1"));
        Assert.That(mocks.OfType("digitalocean:index/vpc:Vpc").Count(), Is.EqualTo(1));
        Assert.That(mocks.OfType("digitalocean:index/sshKey:SshKey").Count(), Is.EqualTo(1));
        Assert.That(mocks.OfType("digitalocean:index/firewall:Firewall").Select(f => f.Name), Is.EquivalentTo(new[] { "network-firewall", "network-firewall-etcd", "api-firewall" }));
        Assert.That(mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Count(), Is.EqualTo(1));
        Assert.That(mocks.OfType(RemoteCommand).Select(c => c.Name), Is.EquivalentTo(new[]
        {
            "node1.bootstrapped", "node2.bootstrapped", "node3.bootstrapped", "addons.api-ready",
            "etcd-node1", "etcd-node2", "etcd-node3", "etcd-node1.credentials", "etcd-node2.credentials", "etcd-node3.credentials",
            "control-plane-node1", "control-plane-node2", "control-plane-node1.credentials", "control-plane-node2.credentials",
            "control-plane-node1.token", "control-plane-node1.token-used", "control-plane-node2.token", "control-plane-node2.token-used",
            "workers-node3.token", "workers-node3.token-used",
            "apiserver-endpoints-node1", "apiserver-endpoints-node2",
            "node-setup-node1", "node-setup-node2", "node-setup-node3", "workers-node3.stale-node", "workers-node3-join",
            "upgrade-node1", "upgrade-node2", "upgrade-node3.drain", "upgrade-node3", "upgrade-node3.uncordon",
            "leave-node1", "leave-node2", "leave-node3", "leave-node1.etcd", "leave-node2.etcd", "leave-node3.etcd",
            "health-check",
        }));
    }

    [Test]
    public async Task DropletsCarryTheClusterAndRoleTagsAndTheVpc()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        string Tags(string node) => string.Join(",", ((IEnumerable)mocks.Named(node).Inputs["tags"]).Cast<object>());

        Assert.That(Tags("node1"), Is.EqualTo("k8s-dev,k8s-dev-control-plane,k8s-dev-etcd"));
        Assert.That(Tags("node2"), Is.EqualTo("k8s-dev,k8s-dev-control-plane,k8s-dev-etcd,k8s-dev-worker"));
        Assert.That(Tags("node3"), Is.EqualTo("k8s-dev,k8s-dev-etcd,k8s-dev-worker"));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "vpcUuid")), Is.All.EqualTo("network-vpc-id"));
        // User data names neither the version nor the roles: a replaced droplet must never boot stale
        // values. Only its SSH host key is the node's own.
        Assert.That(mocks.OfType(Droplet).Select(d => WithoutHostKey(Input(d, "userData"))).Distinct().Count(), Is.EqualTo(1));
        Assert.That(Input(mocks.Named("node1"), "userData"), Does.Not.Contain("1.35").And.Not.Contain("control-plane"));
        Assert.That(Input(mocks.Named("node-setup-node1"), "create"), Does.Contain("KUBERNETES_VERSION='1.35.1'"));
    }

    [Test]
    public async Task InitRunsOnTheFirstControlPlaneNodeAndTheOtherJoins()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        var node1 = Input(mocks.Named("control-plane-node1"), "create");
        var node2 = Input(mocks.Named("control-plane-node2"), "create");

        Assert.That(node1, Does.Contain("MAY_INIT=true").And.Contains("name: node1"));
        Assert.That(node2, Does.Contain("MAY_INIT=false").And.Contains("name: node2"));
        // Any node joins through whichever API server is live (etcd's masterleases), node1 too
        // should it be replaced: the inventory's other control-plane nodes are not in its script.
        Assert.That(node1, Does.Contain("live_api_servers").And.Not.Contains("10.240.0.3:6443"));
        Assert.That(node2, Does.Contain("NODE_IP='10.240.0.3'"));
        // The health check runs before kubeadm in each control-plane step.
        Assert.That(node2.IndexOf("etcd-health.sh", StringComparison.Ordinal), Is.LessThan(node2.IndexOf("steps/control-plane.sh", StringComparison.Ordinal)));
    }

    [Test]
    public async Task ControlPlaneNodesThatAreWorkersLoseTheControlPlaneTaint()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        Assert.That(Input(mocks.Named("control-plane-node1"), "create"), Does.Not.Contain("taints: []"));
        Assert.That(Input(mocks.Named("control-plane-node2"), "create"), Does.Contain("taints: []"));
    }

    [Test]
    public async Task EtcdRunsOnEveryEtcdNodeWithTheWholeInventoryAsInitialCluster()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        const string initialCluster = "initial-cluster: node1=https://10.240.0.2:2380,node2=https://10.240.0.3:2380,node3=https://10.240.0.4:2380";
        foreach (var (node, ip) in new[] { ("node1", "10.240.0.2"), ("node2", "10.240.0.3"), ("node3", "10.240.0.4") })
        {
            var step = mocks.Named($"etcd-{node}");
            Assert.That(Input(step, "create"), Does.Contain(initialCluster).And.Contains($"NODE_IP='{ip}'"));
            Assert.That(step.Inputs.ContainsKey("delete"), Is.False, "a member leaves through its departure step");
            Assert.That(Input(mocks.Named($"leave-{node}.etcd"), "delete"), Does.Contain($"etcd-member-remove-{node}.sh").And.Contains($"NODE_IP='{ip}'"));
        }
        Assert.That(Input(mocks.Named("control-plane-node1"), "create"), Does.Contain("      - https://10.240.0.4:2379"));
    }

    [Test]
    public async Task WorkersJoinThroughALocalProxyToEveryApiServer()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        var proxy = Input(mocks.Named("node-setup-node3"), "create");
        Assert.That(proxy, Does.Contain("server 10.240.0.2:6443 ").And.Contains("server 10.240.0.3:6443 ").And.Contains("least_conn;").And.Contains("proxy_connect_timeout 1s;"));
        var join = mocks.Named("workers-node3-join");
        Assert.That(Input(join, "create"), Does.Contain("apiServerEndpoint: 127.0.0.1:6444").And.Not.Contains("controlPlane:"));
        Assert.That(join.Inputs.ContainsKey("delete"), Is.False, "a node leaves through its departure step");
    }

    [TestCase("leave-node1", "node2", "node-leave-node1.sh", "NODE_NAME='node1'", "control-plane-node1")]
    [TestCase("leave-node2", "node1", "node-leave-node2.sh", "NODE_NAME='node2'", "control-plane-node2")]
    [TestCase("leave-node3", "node1", "node-leave-node3.sh", "NODE_NAME='node3'", "workers-node3-join")]
    [TestCase("leave-node1.etcd", "node2", "etcd-member-remove-node1.sh", "NODE_IP='10.240.0.2'", "etcd-node1")]
    [TestCase("leave-node2.etcd", "node1", "etcd-member-remove-node2.sh", "NODE_IP='10.240.0.3'", "etcd-node2")]
    [TestCase("leave-node3.etcd", "node1", "etcd-member-remove-node3.sh", "NODE_IP='10.240.0.4'", "etcd-node3")]
    public async Task WithoutALoadBalancerANodeIsTakenOutOfTheClusterFromAnotherNode(string step, string runsOn, string script, string about, string joins)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;
        var departure = mocks.Named(step);

        Assert.That(Input(departure, "delete"), Does.Contain(script).And.Contains(about));
        // The mocks give nodeN the public address 203.0.113.(N+1).
        Assert.That(ConnectionHost(departure), Is.EqualTo($"203.0.113.{int.Parse(runsOn[^1..], System.Globalization.CultureInfo.InvariantCulture) + 1}"));
        Assert.That(ConnectionPort(departure), Is.EqualTo(22));
        AssertLeavesBeforeItsSuccessorJoins(mocks, departure, step, joins);
    }

    [TestCase("leave-node1", "node-leave-node1.sh", "control-plane-node1")]
    [TestCase("leave-node3", "node-leave-node3.sh", "workers-node3-join")]
    [TestCase("leave-node1.etcd", "etcd-member-remove-node1.sh", "etcd-node1")]
    [TestCase("leave-node3.etcd", "etcd-member-remove-node3.sh", "etcd-node3")]
    public async Task ANodeLeavesThroughWhicheverControlPlaneNodeTheLoadBalancerFindsAlive(string step, string script, string joins)
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        var departure = mocks.Named(step);

        Assert.That(Input(departure, "delete"), Does.Contain(script));
        // Not a fixed janitor that may be the dead one: the balancer's SSH relay reaches a
        // control-plane node whose API server is ready, and its address outlives any node.
        Assert.That((ConnectionHost(departure), ConnectionPort(departure)), Is.EqualTo((ClusterMocks.LoadBalancerIp, ApiLoadBalancer.SshRelayPort)));
        AssertLeavesBeforeItsSuccessorJoins(mocks, departure, step, joins);
    }

    [Test]
    public async Task TheLoadBalancerRelaysSshOnlyToControlPlaneNodes()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        var rules = ((IEnumerable)mocks.Named("api-lb").Inputs["forwardingRules"]).Cast<IDictionary<string, object>>()
            .Select(r => $"{r["entryProtocol"]}/{r["entryPort"]}->{r["targetProtocol"]}/{r["targetPort"]}");
        Assert.That(rules, Is.EquivalentTo(new[] { "tcp/6443->tcp/6443", $"tcp/{ApiLoadBalancer.SshRelayPort}->tcp/22" }));
        Assert.That(InboundRules(mocks.Named("api-firewall")), Does.Contain("tcp/22 from lb:api-lb-id"));
    }

    [Test]
    public async Task EtcdMembersLeaveThroughAnEtcdNodeWhenControlPlaneNodesHoldNoEtcdCredentials()
    {
        // prod: etcd on its own nodes. The relay reaches control-plane nodes, which have neither
        // etcdctl nor an etcd client certificate: etcd departures keep a janitor among the members.
        var mocks = (await StackRun.RunAsync("prod")).Mocks;
        var etcd = mocks.Named("leave-etcd1.etcd");
        Assert.That(ConnectionHost(etcd), Is.EqualTo(ClusterMocks.PublicIp("etcd2")));
        Assert.That(ConnectionHost(mocks.Named("leave-worker3")), Is.EqualTo(ClusterMocks.LoadBalancerIp));
    }

    private static void AssertLeavesBeforeItsSuccessorJoins(ClusterMocks mocks, MockedResource departure, string step, string joins)
    {
        // It follows the leaving node's droplet: replacing that droplet runs the removal first.
        var leaving = step["leave-".Length..].Split('.')[0];
        Assert.That(((IEnumerable)departure.Inputs["triggers"]).Cast<object>(), Is.EqualTo(new[] { $"{leaving}-id" }));
        // Whatever order Pulumi replaces things in, the previous machine leaves before the new one joins.
        Assert.That(mocks.Named(joins).RegisteredAt, Is.GreaterThan(departure.CompletedAt), $"{joins} waits for {step}");
        // Nothing about leaving runs on the leaving node itself: it may be dead.
        Assert.That(mocks.OfType(RemoteCommand).Where(c => !c.Name.StartsWith("leave-", StringComparison.Ordinal) && c.Inputs.ContainsKey("delete")).Select(c => c.Name), Is.Empty);
    }

    [TestCase("dev")]
    [TestCase("prod")]
    public async Task EveryNodeBootsWithItsOwnHostKeyAndEveryDirectStepPinsIt(string stack)
    {
        // pulumi-command accepts any host key unless the connection names one (remote/connection.go:
        // ssh.InsecureIgnoreHostKey, else ssh.FixedHostKey): a recycled address would get the step.
        var mocks = (await StackRun.RunAsync(stack)).Mocks;
        var keys = new Dictionary<string, string>();
        foreach (var droplet in mocks.OfType(Droplet))
        {
            var node = Input(droplet, "name");
            var userData = new YamlStream();
            userData.Load(new StringReader(Input(droplet, "userData")));
            var sshKeys = (YamlMappingNode)((YamlMappingNode)userData.Documents[0].RootNode)["ssh_keys"];
            var key = mocks.Named($"{node}.ssh-host-key");
            Assert.That((Input(key, "algorithm"), Input(key, "ecdsaCurve")), Is.EqualTo(("ECDSA", "P256")));
            keys[ClusterMocks.PublicIp(node)] = sshKeys["ecdsa_public"].ToString();
            Assert.That(sshKeys["ecdsa_private"].ToString(), Does.StartWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
        }
        Assert.That(keys.Values.Distinct().Count(), Is.EqualTo(keys.Count), "each node has a key of its own");

        var steps = mocks.OfType(RemoteCommand).Concat(mocks.OfType("command:remote:CopyToRemote")).ToList();
        Assert.That(steps, Is.Not.Empty);
        foreach (var step in steps)
        {
            var connection = (IDictionary<string, object>)step.Inputs["connection"];
            var host = connection["host"].ToString()!;
            if (host == ClusterMocks.LoadBalancerIp)
            {
                // The relay lands on whichever control-plane node is healthy: no one key to pin (see NodeDepartures).
                Assert.That(connection.ContainsKey("hostKey"), Is.False, $"{step.Name} goes through the relay");
                continue;
            }
            Assert.That(keys, Does.ContainKey(host), $"{step.Name} connects to a node");
            Assert.That(connection.TryGetValue("hostKey", out var pinned) ? pinned.ToString()!.TrimEnd('\n') : null, Is.EqualTo(keys[host].TrimEnd('\n')), $"{step.Name} pins the host key of the node it runs on");
        }
    }

    /// <summary>User data with the node's own host key taken out.</summary>
    private static string WithoutHostKey(string userData) =>
        System.Text.RegularExpressions.Regex.Replace(userData, @"(?ms)^ssh_keys:\n(  .*?\n)+", "");

    private static int ConnectionPort(MockedResource step) =>
        step.Inputs["connection"] is IDictionary<string, object> connection && connection.TryGetValue("port", out var port) ? Convert.ToInt32(port, System.Globalization.CultureInfo.InvariantCulture) : 22;

    private static string ConnectionHost(MockedResource step) =>
        step.Inputs["connection"] is IDictionary<string, object> connection ? connection["host"].ToString()! : step.Inputs["connection"].ToString()!;

    private static List<string> InboundRules(MockedResource firewall) =>
        ((IEnumerable)firewall.Inputs["inboundRules"]).Cast<IDictionary<string, object>>()
            .Select(r =>
            {
                string From(string key, string prefix) => r.TryGetValue(key, out var v) ? string.Join(",", ((IEnumerable)v).Cast<object>().Select(x => prefix + x)) : "";
                var sources = new[] { From("sourceAddresses", ""), From("sourceTags", "tag:"), From("sourceLoadBalancerUids", "lb:") }.Where(x => x.Length > 0);
                return $"{r["protocol"]}/{(r.TryGetValue("portRange", out var p) ? p : "-")} from {string.Join(",", sources)}";
            })
            .ToList();

    private static string Targets(MockedResource firewall) => string.Join(",", ((IEnumerable)firewall.Inputs["tags"]).Cast<object>());

    [Test]
    public async Task FirewallsOpenOnlyWhatEachRoleNeedsToWhoNeedsIt()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:adminCidrs"] = """["203.0.113.7/32"]""";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        // Every node: SSH from the admins; kubelet, VXLAN, Typha and ICMP from cluster nodes only.
        var cluster = mocks.Named("network-firewall");
        Assert.That(Targets(cluster), Is.EqualTo("k8s-dev"));
        Assert.That(InboundRules(cluster), Is.EquivalentTo(new[]
        {
            "tcp/22 from 203.0.113.7/32",
            "tcp/10250 from tag:k8s-dev",
            "udp/4789 from tag:k8s-dev",
            "tcp/5473 from tag:k8s-dev",
            "icmp/- from tag:k8s-dev",
        }));
        // Out: everything (apt, DNS and NTP over UDP, image pulls, ICMP).
        Assert.That(((IEnumerable)cluster.Inputs["outboundRules"]).Cast<IDictionary<string, object>>().Select(r => $"{r["protocol"]}/{(r.TryGetValue("portRange", out var p) ? p : "-")}"),
            Is.EquivalentTo(new[] { "tcp/1-65535", "udp/1-65535", "icmp/-" }));
        // etcd nodes: clients (the API servers, and members) on 2379, peers on 2380.
        var etcd = mocks.Named("network-firewall-etcd");
        Assert.That(Targets(etcd), Is.EqualTo("k8s-dev-etcd"));
        Assert.That(InboundRules(etcd), Is.EquivalentTo(new[] { "tcp/2379 from tag:k8s-dev-control-plane,tag:k8s-dev-etcd", "tcp/2380 from tag:k8s-dev-etcd" }));
        // Control-plane nodes: 6443 from the load balancer and the cluster's nodes, never from the VPC range.
        var api = mocks.Named("api-firewall");
        Assert.That(Targets(api), Is.EqualTo("k8s-dev-control-plane"));
        Assert.That(InboundRules(api), Is.EquivalentTo(new[] { "tcp/6443 from tag:k8s-dev,lb:api-lb-id", "tcp/22 from lb:api-lb-id" }));
        // The load balancer itself admits only adminCidrs.
        var lb = mocks.Named("api-lb");
        Assert.That(((IEnumerable)((IDictionary<string, object>)lb.Inputs["firewall"])["allows"]).Cast<object>(), Is.EqualTo(new[] { "cidr:203.0.113.7/32" }));
        Assert.That(mocks.OfType("digitalocean:index/firewall:Firewall").SelectMany(InboundRules), Has.None.Contains("10.240.0.0/20"));
    }

    [Test]
    public async Task WithoutALoadBalancerTheAdminsReachTheApiServersDirectly()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:adminCidrs"] = """["203.0.113.7/32"]""";
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        Assert.That(InboundRules(mocks.Named("api-firewall")), Is.EquivalentTo(new[] { "tcp/6443 from tag:k8s-dev", "tcp/6443 from 203.0.113.7/32" }));
    }

    [Test]
    public async Task OutputsKubeconfigAsSecretWithTheLoadBalancerAsServer()
    {
        var result = await StackRun.RunAsync("dev");
        var kubeconfig = result.Output<string>("kubeconfig");

        Assert.That(await Output.IsSecretAsync(kubeconfig), Is.True);
        Assert.That(await kubeconfig.ValueAsync(), Does.Contain($"server: https://{ClusterMocks.LoadBalancerIp}:6443").And.Contains("client-key-data: "));
        Assert.That(await result.Output<string>("apiEndpoint").ValueAsync(), Is.EqualTo($"https://{ClusterMocks.LoadBalancerIp}:6443"));
        // The load balancer's address is on the API servers' certificates.
        Assert.That(Input(result.Mocks.Named("control-plane-node1"), "create"), Does.Contain($"    - {ClusterMocks.LoadBalancerIp}"));
        var lb = result.Mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Single();
        Assert.That(Input(lb, "dropletTag"), Is.EqualTo("k8s-dev-control-plane"));
        // Readiness, not a TCP connect: an API server that lost etcd still accepts connections.
        var check = (IDictionary<string, object>)lb.Inputs["healthcheck"];
        Assert.That((check["protocol"], check["path"], check["port"]), Is.EqualTo(("https", (object)"/readyz", (object)6443)));
    }

    [Test]
    public async Task NodesOutputListsAddressesAndRoles()
    {
        var result = await StackRun.RunAsync("dev");
        var nodes = await result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>("nodes").ValueAsync();

        Assert.That(nodes.Keys, Is.EquivalentTo(new[] { "node1", "node2", "node3" }));
        Assert.That(nodes["node2"]["privateIp"], Is.EqualTo("10.240.0.3"));
        Assert.That(nodes["node2"]["publicIp"], Is.EqualTo("203.0.113.3"));
        Assert.That((IEnumerable)nodes["node2"]["roles"], Is.EqualTo(new[] { "control-plane", "etcd", "worker" }));
        // The line an operator adds to known_hosts to reach the node with the program's own check.
        var userData = Input(result.Mocks.Named("node2"), "userData");
        Assert.That(nodes["node2"]["knownHosts"], Is.EqualTo($"203.0.113.3 {userData.Split('\n').Single(l => l.StartsWith("  ecdsa_public: ", StringComparison.Ordinal))["  ecdsa_public: ".Length..]}"));
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
    public async Task ProdStackSeparatesEtcdControlPlaneAndWorkers()
    {
        var mocks = (await StackRun.RunAsync("prod")).Mocks;

        Assert.That(mocks.OfType(Droplet).Count(), Is.EqualTo(9));
        Assert.That(Input(mocks.Named("etcd1"), "size"), Is.EqualTo("s-2vcpu-4gb"));
        Assert.That(Input(mocks.Named("cp1"), "size"), Is.EqualTo("s-4vcpu-8gb"));
        Assert.That(Input(mocks.Named("worker1"), "size"), Is.EqualTo("s-8vcpu-16gb"));
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("etcd-", StringComparison.Ordinal) && !c.Name.EndsWith(".credentials", StringComparison.Ordinal)).Select(c => c.Name),
            Is.EquivalentTo(new[] { "etcd-etcd1", "etcd-etcd2", "etcd-etcd3" }));
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("control-plane-", StringComparison.Ordinal) && !c.Name.Contains(".token", StringComparison.Ordinal) && !c.Name.EndsWith(".credentials", StringComparison.Ordinal)).Select(c => c.Name),
            Is.EquivalentTo(new[] { "control-plane-cp1", "control-plane-cp2", "control-plane-cp3" }));
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.EndsWith("-join", StringComparison.Ordinal)).Select(c => c.Name),
            Is.EquivalentTo(new[] { "workers-worker1-join", "workers-worker2-join", "workers-worker3-join" }));
        // Dedicated etcd nodes run no kubelet; dedicated control-plane nodes keep their taint.
        Assert.That(mocks.OfType(RemoteCommand).Select(c => c.Name).Where(n => n.StartsWith("node-setup-", StringComparison.Ordinal)),
            Is.EquivalentTo(new[] { "node-setup-cp1", "node-setup-cp2", "node-setup-cp3", "node-setup-worker1", "node-setup-worker2", "node-setup-worker3" }));
        Assert.That(Input(mocks.Named("control-plane-cp2"), "create"), Does.Not.Contain("taints: []"));
        Assert.That(Input(mocks.Named("control-plane-cp1"), "create"), Does.Contain("MAY_INIT=true"));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "region")), Is.All.EqualTo("fra1"));
    }

    [Test]
    public async Task StepsRunInTheOrderAClusterComesUp()
    {
        var mocks = (await StackRun.RunAsync("prod")).Mocks;
        MockedResource R(string name) => mocks.Named(name);

        foreach (var member in new[] { "etcd1", "etcd2", "etcd3" })
        {
            Assert.That(R($"etcd-{member}").RegisteredAt, Is.GreaterThan(R($"{member}.bootstrapped").CompletedAt));
            Assert.That(R("control-plane-cp1").RegisteredAt, Is.GreaterThan(R($"etcd-{member}").CompletedAt), "kubeadm waits for every etcd member");
        }
        foreach (var joining in new[] { "control-plane-cp2", "control-plane-cp3", "workers-worker1-join", "workers-worker2-join" })
        {
            Assert.That(R(joining).RegisteredAt, Is.GreaterThan(R("control-plane-cp1").CompletedAt), $"{joining} waits for kubeadm init");
        }
        Assert.That(R("workers-worker1-join").RegisteredAt, Is.GreaterThan(R("node-setup-worker1").CompletedAt));
        // A control-plane node, the first included, inits or joins through its own local proxy.
        Assert.That(R("control-plane-cp1").RegisteredAt, Is.GreaterThan(R("node-setup-cp1").CompletedAt));
        Assert.That(R("control-plane-cp2").RegisteredAt, Is.GreaterThan(R("node-setup-cp2").CompletedAt));
    }

    [Test]
    public async Task TenWorkersJoinWithoutWaitingForEachOther()
    {
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name.EndsWith("-join", StringComparison.Ordinal), 10) };
        var nodes = "[{\"name\":\"cp1\",\"roles\":[\"control-plane\",\"etcd\"]}," + StackRun.Workers(10)[1..];

        await StackRun.RunAsync("dev", StackRun.WithNodes(nodes), mocks);

        Assert.That(mocks.BarrierTimedOut, Is.False, "a worker join waited for another worker's");
        Assert.That(mocks.OfType(RemoteCommand).Count(c => c.Name.EndsWith("-join", StringComparison.Ordinal)), Is.EqualTo(10));
    }

    [Test]
    public async Task EtcdMembersStartTogether()
    {
        // The members, not their credential steps (seconds each, one after another).
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name.StartsWith("etcd-", StringComparison.Ordinal) && !name.EndsWith(".credentials", StringComparison.Ordinal), 3) };
        await StackRun.RunAsync("dev", mocks);
        Assert.That(mocks.BarrierTimedOut, Is.False, "an etcd member waited for another");
    }

    [Test]
    public async Task ControlPlaneJoinsRunTogetherAfterInit()
    {
        var mocks = new ClusterMocks { Barrier = ((type, name) => type == RemoteCommand && name is "control-plane-cp2" or "control-plane-cp3", 2) };
        await StackRun.RunAsync("prod", mocks);
        Assert.That(mocks.BarrierTimedOut, Is.False, "a control-plane join waited for another");
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
    public async Task AddingANodeChangesNoOtherNodesJoinStep()
    {
        var before = (await StackRun.RunAsync("dev")).Mocks;
        var nodes = """
            [{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},
             {"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["worker"]}]
            """;
        var after = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        Assert.That(after.OfType(RemoteCommand).Select(c => c.Name), Does.Contain("workers-node4-join"));
        foreach (var unchanged in new[] { "workers-node3-join", "node-setup-node3", "control-plane-node1", "etcd-node3", "node1" })
        {
            Assert.That(after.Named(unchanged).Inputs, Is.EquivalentTo(before.Named(unchanged).Inputs), unchanged);
        }
    }

    [Test]
    public async Task RealPkiReachesTheNodesAndTheKubeconfig()
    {
        var result = await StackRun.RunAsync("dev");
        var pki = RealPki.Material;
        Assert.That(Input(result.Mocks.Named("control-plane-node1.credentials"), "create"), Does.Contain(pki.CaCert).And.Contains(pki.ApiServerEtcdClientCert));
        Assert.That(Input(result.Mocks.Named("workers-node3-join"), "create"), Does.Contain(pki.CaCertHash).And.Not.Contains(pki.CaKey));
        // An etcd member gets the etcd CA's certificate and its own credential: never the CA key.
        var etcd = Input(result.Mocks.Named("etcd-node3.credentials"), "create");
        Assert.That(etcd, Does.Contain(pki.EtcdCaCert).And.Not.Contains(pki.EtcdCaKey).And.Not.Contains(pki.CaKey));
        var member = await result.Resources.OfType<ClusterPki>().Single().EtcdMember("node3").ValueAsync();
        Assert.That(etcd, Does.Contain(member.Cert.Split('\n')[1]).And.Contain(member.Key.Split('\n')[1]));
        // The exported kubeconfig is the operators' identity, not the program's own.
        var kubeconfig = await result.Output<string>("kubeconfig").ValueAsync();
        Assert.That(kubeconfig, Does.Contain(Base64(pki.CaCert)).And.Contain(Base64(pki.OperatorCert)).And.Not.Contain(Base64(pki.AdminCert)));
    }

    private static string Base64(string pem) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem.TrimEnd('\n') + "\n"));

    [TestCase("dev")]
    [TestCase("prod")]
    public async Task NothingRunsWhereTheOperatorRunsPulumi(string stack)
    {
        // No local command at all: no bash, openssl, curl or /dev/tcp on a Windows machine.
        var mocks = (await StackRun.RunAsync(stack)).Mocks;

        Assert.That(mocks.OfType(LocalCommand), Is.Empty);
        Assert.That(mocks.Resources.Select(r => r.Type.Split(':')[0]).Distinct(), Is.SubsetOf(new[] { "do-k8s-ha", "digitalocean", "command", "tls", "kubernetes", "pulumi" }));
    }

    [Test]
    public async Task ANewDropletsFirstStepRetriesItsDialsWhileSshdStartsAndTheRestGiveUpWithinAMinute()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;

        foreach (var step in mocks.OfType(RemoteCommand))
        {
            var connection = (IDictionary<string, object>)step.Inputs["connection"];
            var limit = Convert.ToInt32(connection["dialErrorLimit"], System.Globalization.CultureInfo.InvariantCulture);
            var retried = SshDial.RetriedFor(limit);
            if (step.Name.EndsWith(".bootstrapped", StringComparison.Ordinal))
            {
                Assert.That(retried, Is.GreaterThanOrEqualTo(ClusterNode.SshStartTimeout), step.Name);
            }
            else if (step.Name != "addons.api-ready")
            {
                Assert.That(retried, Is.InRange(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1.2)), step.Name);
            }
        }
    }

    [Test]
    public async Task ThePkiIsIssuedByTheTlsProviderAndRenewsItsLeaves()
    {
        var mocks = (await StackRun.RunAsync("prod")).Mocks;

        var authorities = mocks.OfType("tls:index/selfSignedCert:SelfSignedCert").ToList();
        Assert.That(authorities.Select(c => c.Name), Is.EquivalentTo(new[] { "pki-ca", "pki-front-proxy-ca", "pki-etcd-ca" }));
        Assert.That(authorities.Select(c => c.Inputs["isCaCertificate"]), Is.All.EqualTo(true));
        Assert.That(authorities.Select(c => c.Inputs.ContainsKey("earlyRenewalHours")), Is.All.False, "a CA renewed in place would orphan every node");

        var leaves = mocks.OfType("tls:index/locallySignedCert:LocallySignedCert").ToList();
        Assert.That(leaves.Select(c => c.Name), Is.EquivalentTo(new[]
        {
            "pki-apiserver-etcd-client", "pki-admin", "pki-operator", "pki-etcd1.etcd-member", "pki-etcd2.etcd-member", "pki-etcd3.etcd-member",
        }));
        foreach (var leaf in leaves)
        {
            Assert.That(leaf.Inputs["earlyRenewalHours"], Is.EqualTo(60 * 24), $"{leaf.Name} renews in its last 60 days");
            Assert.That(leaf.Inputs["validityPeriodHours"], Is.EqualTo(leaf.Name == "pki-operator" ? 90 * 24 : 365 * 24), leaf.Name);
        }
        // Each member's certificate names its own address.
        var request = mocks.OfType("tls:index/certRequest:CertRequest").Single(r => r.Name == "pki-etcd2.etcd-member");
        Assert.That(((IEnumerable)request.Inputs["ipAddresses"]).Cast<object>(), Is.EqualTo(new object[] { "10.241.0.22", "127.0.0.1" }));
        // The PKI's keys are RSA (kubeadm's own choice); the nodes' SSH host keys and the seeds of
        // the Secrets encryption keys are ECDSA.
        Assert.That(mocks.OfType("tls:index/privateKey:PrivateKey").Where(k => k.Name.StartsWith("pki-", StringComparison.Ordinal) && !k.Name.StartsWith("pki-encryption-", StringComparison.Ordinal)).Select(k => k.Inputs["algorithm"]), Is.All.EqualTo("RSA"));
    }

    [Test]
    public async Task TheOperatorIsBoundToClusterAdminByItsKeysFingerprintThroughTheProgramsOwnIdentity()
    {
        var result = await StackRun.RunAsync("dev");
        var binding = result.Mocks.OfType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").Single();
        Assert.That(((IDictionary<string, object>)binding.Inputs["roleRef"])["name"], Is.EqualTo("cluster-admin"));
        var subject = ((IEnumerable)binding.Inputs["subjects"]).Cast<IDictionary<string, object>>().Single();
        // The user the exported certificate names, derived from its key: a new key, a new user.
        Assert.That(subject["kind"], Is.EqualTo("User"));
        Assert.That(subject["name"].ToString(), Does.Match("^do-k8s-ha-operator-[0-9a-f]{12}$"));
        var request = result.Mocks.OfType("tls:index/certRequest:CertRequest").Single(r => r.Name == "pki-operator");
        Assert.That(((IDictionary<string, object>)request.Inputs["subject"])["commonName"], Is.EqualTo(subject["name"]));
        // The provider is the program's: revoking the operators must not lock the program out.
        var provider = result.Mocks.OfType("pulumi:providers:kubernetes").Single();
        Assert.That(Input(provider, "kubeconfig"), Does.Contain(Base64(RealPki.Material.AdminCert)).And.Not.Contain(Base64(RealPki.Material.OperatorCert)));
    }

    [Test]
    public async Task KeyMaterialIsSecretAtItsSource()
    {
        // Mocks drop the secret flag of resource inputs, so this checks the sources every step's
        // script is derived from: an output derived from a secret stays secret.
        var result = await StackRun.RunAsync("dev");
        var pki = result.Resources.OfType<Components.ClusterPki>().Single();
        var controlPlane = result.Resources.OfType<Components.ControlPlane>().Single();

        Assert.That(await Output.IsSecretAsync(pki.Material), Is.True);
        Assert.That(await Output.IsSecretAsync(pki.Material.Apply(m => m.EtcdCaKey)), Is.True);
        Assert.That(await Output.IsSecretAsync(pki.EtcdMember("node1")), Is.True);
        Assert.That(await Output.IsSecretAsync(controlPlane.LocalAdminKubeconfig), Is.True);
        var node = result.Resources.OfType<Components.ClusterNode>().First();
        Assert.That(await Output.IsSecretAsync(node.Connection.PrivateKey!.ToOutput()), Is.True);
    }

    [Test]
    public void ConfigDefaultsParse() =>
        Assert.That(ConfigParser.Parse(k => k switch { "sshPublicKey" => StackRun.PublicKey, "adminCidrs" => """["203.0.113.0/24"]""", _ => null }, k => true, "dev", out _).Nodes, Has.Count.EqualTo(3));

    [Test]
    public async Task NodeNamesThatExtendEachOtherGiveEveryResourceItsOwnName()
    {
        // "a" and "a-etcd" once both had a "leave-a-etcd" step, and "etcd-b" and "b-bootstrapped"
        // once shared "etcd-b-bootstrapped": the engine refuses a duplicate URN (as the mocks do now).
        var nodes = """
            [{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"a-etcd","roles":["worker"]},
             {"name":"etcd-b","roles":["worker"]},{"name":"b-bootstrapped","roles":["etcd"]},{"name":"c","roles":["etcd"]}]
            """;
        var mocks = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        Assert.That(mocks.OfType(RemoteCommand).Select(c => c.Name), Does.Contain("leave-a.etcd").And.Contain("leave-a-etcd").And.Contain("etcd-b.bootstrapped").And.Contain("etcd-b-bootstrapped"));
    }

    [Test]
    public async Task AKeyAlreadyInTheAccountAndAnExistingVpcAreUsedNotCreated()
    {
        // DigitalOcean refuses to upload a key it already has (422), and a region's default VPC cannot be deleted (403).
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:sshKeyFingerprint"] = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
        config["do-k8s-ha:vpcId"] = "5a4981aa-9653-4bd1-bef5-d6bff52042e4";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        Assert.That(mocks.OfType("digitalocean:index/sshKey:SshKey"), Is.Empty);
        Assert.That(mocks.OfType("digitalocean:index/vpc:Vpc"), Is.Empty);
        foreach (var droplet in mocks.OfType(Droplet))
        {
            Assert.That(((IEnumerable)droplet.Inputs["sshKeys"]).Cast<object>(), Is.EqualTo(new[] { "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99" }), droplet.Name);
            Assert.That(Input(droplet, "vpcUuid"), Is.EqualTo("5a4981aa-9653-4bd1-bef5-d6bff52042e4"), droplet.Name);
        }
        Assert.That(Input(mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Single(), "vpcUuid"), Is.EqualTo("5a4981aa-9653-4bd1-bef5-d6bff52042e4"));
    }

    [Test]
    public async Task AStaleNodeIsRemovedFromTheFirstControlPlaneNodeBeforeAWorkerJoins()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;
        var stale = mocks.Named("workers-node3.stale-node");

        // On node1 (public 203.0.113.2), about node3's droplet, before node3's join.
        Assert.That(ConnectionHost(stale), Is.EqualTo("203.0.113.2"));
        Assert.That(Input(stale, "create"), Does.Contain("NODE_NAME='node3'").And.Contain("DROPLET_ID='node3-id'"));
        Assert.That(((IEnumerable)stale.Inputs["triggers"]).Cast<object>(), Does.Contain("node3-id"));
        Assert.That(mocks.Named("workers-node3-join").RegisteredAt, Is.GreaterThan(stale.CompletedAt));
        Assert.That(Input(mocks.Named("workers-node3-join"), "create"), Does.Contain("value: do-k8s-ha.io/droplet=node3-id").And.Not.Contain("client-key-data"));
    }

    [Test]
    public void ABadConfigEndsTheRunWithItsMessageAloneAndNoStackTrace()
    {
        // pulumi-dotnet Deployment.Runner.cs prints a RunException as its message; any other
        // exception as "failed with an unhandled exception" and a stack trace.
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:region"] = "Mars";

        var error = Assert.CatchAsync(() => StackRun.RunAsync("dev", config))!;
        var message = error is AggregateException all ? string.Join("\n", all.InnerExceptions.Select(e => e.Message)) : error.Message;

        Assert.That(message, Does.Contain("do-k8s-ha:region: 'Mars' is not a DigitalOcean region slug"));
        Assert.That(message, Does.Not.Contain("unhandled exception").And.Not.Contain("   at "));
    }

    [Test]
    public async Task EveryJoinGetsItsOwnShortLivedTokenFromALiveControlPlaneNodeAndItGoesAfterTheJoin()
    {
        var mocks = (await StackRun.RunAsync("dev")).Mocks;

        foreach (var (joining, join, mintedOn) in new[] { ("node3", "workers-node3-join", "node1"), ("node2", "control-plane-node2", "node1"), ("node1", "control-plane-node1", "node2") })
        {
            var prefix = join.StartsWith("workers", StringComparison.Ordinal) ? $"workers-{joining}" : join;
            var mint = mocks.Named($"{prefix}.token");
            var used = mocks.Named($"{prefix}.token-used");
            Assert.That(ConnectionHost(mint), Is.EqualTo(ClusterMocks.PublicIp(mintedOn)), $"{joining}'s token is minted on {mintedOn}");
            Assert.That(Input(mint, "create"), Does.Contain("TTL='1h0m0s'").And.Contain($"NODE_NAME='{joining}'"));
            Assert.That(mint.Inputs["logging"], Is.EqualTo("none"), "the token is not shown in pulumi's output");
            Assert.That(mocks.Named(join).RegisteredAt, Is.GreaterThan(mint.CompletedAt));
            Assert.That(Input(mocks.Named(join), "create"), Does.Contain(ClusterMocks.Token(mint.Name)), $"{join} joins with its own token");
            Assert.That(used.RegisteredAt, Is.GreaterThan(mocks.Named(join).CompletedAt));
            Assert.That(Input(used, "create"), Does.Contain($"TOKEN_ID='{ClusterMocks.Token(mint.Name)[..6]}'"));
        }
    }
}
