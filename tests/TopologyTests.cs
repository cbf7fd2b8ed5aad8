using System.Collections;
using DoK8sHa.Components;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using static DoK8sHa.Tests.Support.StackAssertions;

namespace DoK8sHa.Tests;

/// <summary>What the program builds for each inventory: droplets, their tags and firewalls, which step runs on which node, and nothing run where `pulumi up` runs. The whole program under Pulumi's mocks, with the dev and prod stack files.</summary>
public class TopologyTests
{
    /// <summary>The dev stack's cluster name under the mocks.</summary>
    private static string C => StackRun.ClusterName("dev");

    // A kept step leaves each of its scripts on the node it runs on, as <steps>/<name>.sh, for an
    // operator to read or run again (docs/day-2.md "Check the cluster's health"): every name says what
    // it is, and two steps that run on one node (the first control-plane node mints every join's
    // token and checks every worker's stale Node) never leave different scripts under one name.
    [TestCase("dev", "join-token-node3")]
    [TestCase("prod", "join-token-worker1")]
    public async Task EveryKeptScriptHasItsOwnNameOnItsNode(string stack, string aTokenScript)
    {
        var kept = new Dictionary<(string Host, string Name), (string Step, string Script)>();
        var secret = new HashSet<string>();
        foreach (var step in (await StackRun.SharedAsync(stack)).Mocks.OfType(RemoteCommand))
        {
            var stdin = step.Input("stdin");
            var keeps = stdin.Contains($"steps={Sh.Quote(Render.StepsDir)}", StringComparison.Ordinal);
            foreach (System.Text.RegularExpressions.Match script in System.Text.RegularExpressions.Regex.Matches(stdin, "cat > \"\\$steps/(.*?)\\.sh\" <<'DO_K8S_HA_STEP'\n(.*?)\nDO_K8S_HA_STEP\n", System.Text.RegularExpressions.RegexOptions.Singleline))
            {
                var (name, text) = (script.Groups[1].Value, script.Groups[2].Value);
                // A secret step's script is not kept, but its name is what a failure is reported by.
                Assert.That(name, Does.Match("^[a-z][a-z0-9.-]*[a-z0-9]$"), $"{step.Name} runs a script named '{name}'");
                if (!keeps)
                {
                    secret.Add(name);
                    continue;
                }
                var key = (ConnectionHost(step), name);
                if (kept.TryGetValue(key, out var earlier))
                {
                    Assert.That(text, Is.EqualTo(earlier.Script), $"{step.Name} and {earlier.Step} both keep {name}.sh on {key.Item1}");
                }
                kept[key] = (step.Name, text);
            }
        }
        Assert.That(kept.Keys.Select(k => k.Name), Does.Contain(aTokenScript).And.Contain("cluster-health"));
        Assert.That(secret, Does.Contain("worker-join").And.Contain("control-plane"));
    }

    [Test]
    public async Task DevStackBuildsTheSeedTopology()
    {
        var result = await StackRun.SharedAsync("dev");
        var mocks = result.Mocks;

        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "name")), Is.EqualTo(new[] { "node1", "node2", "node3" }));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "size")), Is.All.EqualTo("s-2vcpu-4gb"));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "region")), Is.All.EqualTo("lon1"));
        // DigitalOcean's metrics agent: CPU, memory and disk graphs and alerts for every node.
        Assert.That(mocks.OfType(Droplet).Select(d => d.Inputs["monitoring"]), Is.All.EqualTo(true));
        // What the DigitalOcean console shows: each object named after the cluster it belongs to.
        var vpc = mocks.OfType("digitalocean:index/vpc:Vpc").Single();
        Assert.That((Input(vpc, "name"), Input(vpc, "region"), Input(vpc, "ipRange"), Input(vpc, "description")),
            Is.EqualTo(($"{C}-vpc", "lon1", "10.240.0.0/20", $"do-k8s-ha cluster {C}")));
        Assert.That((Input(mocks.OfType("digitalocean:index/sshKey:SshKey").Single(), "name"), Input(mocks.OfType("digitalocean:index/sshKey:SshKey").Single(), "publicKey")),
            Is.EqualTo(($"{C}-admin", StackRun.PublicKey)));
        Assert.That(Input(mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Single(), "name"), Is.EqualTo($"{C}-api"));
        Assert.That(mocks.OfType("digitalocean:index/firewall:Firewall").Select(f => Input(f, "name")), Is.EquivalentTo(new[] { $"{C}-nodes", $"{C}-etcd", $"{C}-api" }));
        Assert.That(mocks.OfType("digitalocean:index/tag:Tag").Select(t => Input(t, "name")), Is.EquivalentTo(new[] { $"{C}", $"{C}-control-plane", $"{C}-etcd", $"{C}-worker" }));
        Assert.That(mocks.OfType("digitalocean:index/firewall:Firewall").Select(f => f.Name), Is.EquivalentTo(new[] { "network-firewall", "network-firewall-etcd", "api-firewall" }));
        // Resource names are URNs: the engine deletes and recreates a renamed tag, taking the
        // firewall and the load balancer off every node while it does.
        Assert.That(mocks.OfType("digitalocean:index/tag:Tag").Select(t => t.Name), Is.EquivalentTo(new[] { "network-tag-cluster", "network-tag-control-plane", "network-tag-etcd", "network-tag-worker" }));
        Assert.That(mocks.OfType("digitalocean:index/loadBalancer:LoadBalancer").Count(), Is.EqualTo(1));
        Assert.That(mocks.OfType(RemoteCommand).Select(c => c.Name), Is.EquivalentTo(new[]
        {
            "node1.bootstrapped", "node2.bootstrapped", "node3.bootstrapped", "node1.host-key", "node2.host-key", "node3.host-key", "addons.api-ready",
            "node1.releases", "node2.releases", "node3.releases",
            "etcd-node1", "etcd-node2", "etcd-node3", "etcd-node1.credentials", "etcd-node2.credentials", "etcd-node3.credentials",
            "etcd-node1.service", "etcd-node2.service", "etcd-node3.service",
            "control-plane-node1", "control-plane-node2", "control-plane-node1.credentials", "control-plane-node2.credentials",
            "control-plane-node1.token", "control-plane-node1.token-used", "control-plane-node2.token", "control-plane-node2.token-used",
            "workers-node3.token", "workers-node3.token-used",
            "apiserver-endpoints-node1", "apiserver-endpoints-node2",
            "snapshots-node1", "snapshots-node2", "snapshots-node3",
            "snapshot-before-change-node1", "snapshot-before-change-node2", "snapshot-before-change-node3",
            "node-setup-node1", "node-setup-node2", "node-setup-node3", "metadata-guard-node1", "metadata-guard-node2", "metadata-guard-node3",
            "kubelet-serving-node1", "kubelet-serving-node2", "kubelet-serving-node3", "workers-node3.stale-node", "workers-node3-join",
            "upgrade-node1", "upgrade-node2", "upgrade-node3.drain", "upgrade-node3", "upgrade-node3.uncordon",
            "leave-node1", "leave-node2", "leave-node3", "leave-node1.etcd", "leave-node2.etcd", "leave-node3.etcd",
            "kubeadm-certs-node1", "kubeadm-certs-node2",
            "health-check",
        }));
    }

    [Test]
    public async Task DropletsCarryTheClusterAndRoleTagsAndTheVpc()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        string Tags(string node) => string.Join(",", ((IEnumerable)mocks.Named(node).Inputs["tags"]).Cast<object>());

        Assert.That(Tags("node1"), Is.EqualTo($"{C},{C}-control-plane,{C}-etcd"));
        Assert.That(Tags("node2"), Is.EqualTo($"{C},{C}-control-plane,{C}-etcd,{C}-worker"));
        Assert.That(Tags("node3"), Is.EqualTo($"{C},{C}-etcd,{C}-worker"));
        Assert.That(mocks.OfType(Droplet).Select(d => Input(d, "vpcUuid")), Is.All.EqualTo("network-vpc-id"));
        // User data names neither the version nor the roles: a replaced droplet must never boot stale
        // values. Only its SSH host key is the node's own.
        Assert.That(mocks.OfType(Droplet).Select(d => WithoutHostKey(Input(d, "userData"))).Distinct().Count(), Is.EqualTo(1));
        Assert.That(Input(mocks.Named("node1"), "userData"), Does.Not.Contain("1.36").And.Not.Contain("control-plane"));
        Assert.That(Input(mocks.Named("node1.releases"), "create"), Does.Contain("KUBERNETES_VERSION='1.37.1'"));
    }

    [Test]
    public async Task ProdStackSeparatesEtcdControlPlaneAndWorkers()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;

        Assert.That(mocks.OfType(Droplet).Count(), Is.EqualTo(9));
        Assert.That(Input(mocks.Named("etcd1"), "size"), Is.EqualTo("s-2vcpu-4gb"));
        Assert.That(Input(mocks.Named("cp1"), "size"), Is.EqualTo("s-4vcpu-8gb"));
        Assert.That(Input(mocks.Named("worker1"), "size"), Is.EqualTo("s-8vcpu-16gb"));
        Assert.That(mocks.OfType(RemoteCommand).Where(c => c.Name.StartsWith("etcd-", StringComparison.Ordinal) && !c.Name.EndsWith(".credentials", StringComparison.Ordinal)).Select(c => c.Name),
            Is.EquivalentTo(new[] { "etcd-etcd1", "etcd-etcd2", "etcd-etcd3", "etcd-etcd1.service", "etcd-etcd2.service", "etcd-etcd3.service" }));
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
    public async Task InitRunsOnTheFirstControlPlaneNodeAndTheOtherJoins()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
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
    public async Task AControlPlaneNodeAnswersOnItsLocalNamesAndTakesCredentialsForItsLocalProxy()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        // The API servers' certificate: the local proxy (controlPlaneEndpoint 127.0.0.1) and the balancer.
        Assert.That(Input(mocks.Named("control-plane-node2"), "create"), Does.Contain("  certSANs:\n    - 127.0.0.1\n    - localhost\n    - 198.51.100.10\n"));
        // Its own admin.conf reaches the API through the local proxy, which survives any one API server.
        Assert.That(Input(mocks.Named("control-plane-node2.credentials"), "create"), Does.Contain("server: https://127.0.0.1:6444\n"));
        // A node creates or joins while one etcd member is down: quorum is enough.
        Assert.That(Input(mocks.Named("control-plane-node2"), "create"), Does.Contain("REQUIRE_ALL=false\n"));
    }

    [Test]
    public async Task ALoneControlPlaneNodeIsGivenNoToken()
    {
        var nodes = """[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"b","roles":["etcd","worker"]},{"name":"c","roles":["etcd","worker"]}]""";
        var mocks = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        Assert.That(mocks.Resources.Select(r => r.Name), Has.None.EqualTo("control-plane-a.token"));
        Assert.That(Input(mocks.Named("control-plane-a"), "create"), Does.Contain("JOIN_TOKEN_GIVEN=false"));
    }

    [Test]
    public async Task ControlPlaneNodesThatAreWorkersLoseTheControlPlaneTaint()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        Assert.That(Input(mocks.Named("control-plane-node1"), "create"), Does.Not.Contain("taints: []"));
        Assert.That(Input(mocks.Named("control-plane-node2"), "create"), Does.Contain("taints: []"));
    }

    [Test]
    public async Task EtcdRunsOnEveryEtcdNodeWithTheWholeInventoryAsInitialCluster()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        const string initialCluster = "initial-cluster: node1=https://10.240.0.2:2380,node2=https://10.240.0.3:2380,node3=https://10.240.0.4:2380";
        // The cluster's own token: members of another cluster that reuse an address are refused.
        var token = $"initial-cluster-token: {C}-etcd";
        foreach (var (node, ip) in new[] { ("node1", "10.240.0.2"), ("node2", "10.240.0.3"), ("node3", "10.240.0.4") })
        {
            var step = mocks.Named($"etcd-{node}");
            Assert.That(Input(step, "create"), Does.Contain(initialCluster).And.Contains(token).And.Contains($"NODE_IP='{ip}'"));
            Assert.That(step.Inputs.ContainsKey("delete"), Is.False, "a member leaves through its departure step");
            Assert.That(Input(mocks.Named($"leave-{node}.etcd"), "delete"), Does.Contain($"etcd-member-remove-{node}.sh").And.Contains($"NODE_IP='{ip}'"));
        }
        Assert.That(Input(mocks.Named("control-plane-node1"), "create"), Does.Contain("      - https://10.240.0.4:2379"));
    }

    [Test]
    public async Task WorkersJoinThroughALocalProxyToEveryApiServer()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var proxy = Input(mocks.Named("node-setup-node3"), "create");
        Assert.That(proxy, Does.Contain("server 10.240.0.2:6443 ").And.Contains("server 10.240.0.3:6443 ").And.Contains("least_conn;").And.Contains("proxy_connect_timeout 1s;"));
        var join = mocks.Named("workers-node3-join");
        Assert.That(Input(join, "create"), Does.Contain("apiServerEndpoint: 127.0.0.1:6444").And.Not.Contains("controlPlane:"));
        Assert.That(join.Inputs.ContainsKey("delete"), Is.False, "a node leaves through its departure step");
    }

    [Test]
    public async Task TheLoadBalancerRelaysSshOnlyToControlPlaneNodes()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var rules = ((IEnumerable)mocks.Named("api-lb").Inputs["forwardingRules"]).Cast<IDictionary<string, object>>()
            .Select(r => $"{r["entryProtocol"]}/{r["entryPort"]}->{r["targetProtocol"]}/{r["targetPort"]}");
        Assert.That(rules, Is.EquivalentTo(new[] { "tcp/6443->tcp/6443", $"tcp/{ApiLoadBalancer.SshRelayPort}->tcp/22" }));
        Assert.That(InboundRules(mocks.Named("api-firewall")), Does.Contain("tcp/22 from lb:api-lb-id"));
    }

    [Test]
    public async Task FirewallsOpenOnlyWhatEachRoleNeedsToWhoNeedsIt()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:adminCidrs"] = """["203.0.113.7/32"]""";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        // Every node: SSH from the admins; kubelet, VXLAN, Typha and ICMP from cluster nodes only.
        var cluster = mocks.Named("network-firewall");
        Assert.That(Targets(cluster), Is.EqualTo($"{C}"));
        Assert.That(InboundRules(cluster), Is.EquivalentTo(new[]
        {
            "tcp/22 from 203.0.113.7/32",
            $"tcp/10250 from tag:{C}",
            $"udp/4789 from tag:{C}",
            $"tcp/5473 from tag:{C}",
            $"icmp/- from tag:{C}",
        }));
        // Out: everything (apt, DNS and NTP over UDP, image pulls, ICMP).
        Assert.That(((IEnumerable)cluster.Inputs["outboundRules"]).Cast<IDictionary<string, object>>().Select(r => $"{r["protocol"]}/{(r.TryGetValue("portRange", out var p) ? p : "-")}"),
            Is.EquivalentTo(new[] { "tcp/1-65535", "udp/1-65535", "icmp/-" }));
        Assert.That(((IEnumerable)cluster.Inputs["outboundRules"]).Cast<IDictionary<string, object>>().Select(r => string.Join(",", ((IEnumerable)r["destinationAddresses"]).Cast<object>())),
            Is.All.EqualTo("0.0.0.0/0,::/0"), "to anywhere, over IPv4 and IPv6");
        // etcd nodes: clients (the API servers, and members) on 2379, peers on 2380.
        var etcd = mocks.Named("network-firewall-etcd");
        Assert.That(Targets(etcd), Is.EqualTo($"{C}-etcd"));
        Assert.That(InboundRules(etcd), Is.EquivalentTo(new[] { $"tcp/2379 from tag:{C}-control-plane,tag:{C}-etcd", $"tcp/2380 from tag:{C}-etcd" }));
        // Control-plane nodes: 6443 from the load balancer and the cluster's nodes, never from the VPC range.
        var api = mocks.Named("api-firewall");
        Assert.That(Targets(api), Is.EqualTo($"{C}-control-plane"));
        Assert.That(InboundRules(api), Is.EquivalentTo(new[] { $"tcp/6443 from tag:{C},lb:api-lb-id", "tcp/22 from lb:api-lb-id" }));
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

        Assert.That(InboundRules(mocks.Named("api-firewall")), Is.EquivalentTo(new[] { $"tcp/6443 from tag:{C}", "tcp/6443 from 203.0.113.7/32" }));
    }

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
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;

        foreach (var step in mocks.OfType(RemoteCommand))
        {
            var connection = (IDictionary<string, object>)step.Inputs["connection"];
            var limit = Convert.ToInt32(connection["dialErrorLimit"], System.Globalization.CultureInfo.InvariantCulture);
            var retried = SshDial.RetriedFor(limit);
            // The downloads start as soon as sshd answers, beside the bootstrap wait.
            if (step.Name.EndsWith(".bootstrapped", StringComparison.Ordinal) || step.Name.EndsWith(".releases", StringComparison.Ordinal))
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
}
