using System.Collections;
using DoK8sHa.Components;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using Pulumi;

namespace DoK8sHa.Tests;

/// <summary>Issue 3: add-ons through Pulumi.Kubernetes, the API proxies, and the health gate.</summary>
public class AddonAndHealthTests
{
    private const string Release = "kubernetes:helm.sh/v3:Release";
    private const string Provider = "pulumi:providers:kubernetes";

    private static IDictionary<string, object> Map(object value) => (IDictionary<string, object>)value;

    /// <summary>An input as JSON with its keys in order (the mocks' maps keep none).</summary>
    private static string Json(object value)
    {
        static object? Sorted(object? v) => v switch
        {
            IDictionary<string, object> map => new SortedDictionary<string, object?>(map.ToDictionary(e => e.Key, e => Sorted(e.Value)), StringComparer.Ordinal),
            string text => text,
            IEnumerable list => list.Cast<object>().Select(Sorted).ToList(),
            _ => v,
        };
        return System.Text.Json.JsonSerializer.Serialize(Sorted(value));
    }

    [Test]
    public async Task CalicoAndMetricsServerAreInstalledByDefault()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;

        Assert.That(mocks.OfType(Release).Select(r => r.Inputs["name"]), Is.EquivalentTo(new[] { "calico", "metrics-server" }));
        var calico = mocks.Named("addons-calico");
        Assert.That(calico.Inputs["chart"], Is.EqualTo("tigera-operator"));
        Assert.That(calico.Inputs["version"], Is.EqualTo("v3.30.6"));
        var pool = Map(((IEnumerable)Map(Map(Map(calico.Inputs["values"])["installation"])["calicoNetwork"])["ipPools"]).Cast<object>().Single());
        Assert.That(pool["cidr"], Is.EqualTo("10.233.64.0/18"));
        Assert.That(pool["encapsulation"], Is.EqualTo("VXLAN"));
        Assert.That(mocks.Named("addons-metrics-server").Inputs["version"], Is.EqualTo("3.13.0"));
        // NodeLocal DNSCache and the DNS autoscaler are on by default, as in Kubespray.
        Assert.That(mocks.Resources.Where(r => r.Type.StartsWith("kubernetes:yaml", StringComparison.Ordinal)).Select(r => r.Name),
            Is.EquivalentTo(new[] { "addons-nodelocaldns", "addons-dns-autoscaler" }));
        var autoscaler = mocks.Named("addons-dns-autoscaler").Input("yaml");
        Assert.That(autoscaler, Does.Contain("image: registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.10.3").And.Contain("--target=Deployment/coredns"));
        Assert.That(autoscaler, Does.Contain("\"min\":2,").And.Contain("\"preventSinglePointFailure\":true"));
    }

    [Test]
    public async Task TheDnsAddonsAreJudgedByTheHealthGateWhenTheyRunAndCanBeTurnedOff()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var gate = mocks.Named("health-check");
        foreach (var dns in new[] { "addons-nodelocaldns", "addons-dns-autoscaler" })
        {
            Assert.That(gate.RegisteredAt, Is.GreaterThan(mocks.Named(dns).CompletedAt), $"the gate waits for {dns}");
            Assert.That(mocks.Named(dns).RegisteredAt, Is.GreaterThan(mocks.Named("addons-calico").CompletedAt), $"{dns} needs the pod network");
        }
        Assert.That(gate.Input("create"), Does.Contain("COREDNS_MIN_AVAILABLE=2").And.Contain("DNS_AUTOSCALER=true").And.Contain("NODELOCALDNS=true"));

        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:nodeLocalDns"] = "false";
        config["do-k8s-ha:dnsAutoscaler"] = "false";
        var off = (await StackRun.RunAsync("dev", config)).Mocks;

        Assert.That(off.Resources.Where(r => r.Type.StartsWith("kubernetes:yaml", StringComparison.Ordinal)).Select(r => r.Name), Is.Empty);
        Assert.That(off.Named("health-check").Input("create"), Does.Contain("COREDNS_MIN_AVAILABLE=1").And.Contain("DNS_AUTOSCALER=false").And.Contain("NODELOCALDNS=false"));
    }

    [TestCase(1, 1)]
    [TestCase(2, 2)]
    [TestCase(40, 2)]
    public void CoreDnsKeepsTwoReplicasWhereThereAreTwoNodesToSpreadThem(int kubernetesNodes, int min) =>
        Assert.That(Scripts.Render.DnsMinReplicas(kubernetesNodes), Is.EqualTo(min));

    [Test]
    public async Task OptionalAddonsFollowTheirFlagsAndPinnedVersions()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:dashboard"] = "true";
        config["do-k8s-ha:dashboardVersion"] = "7.12.0";
        config["do-k8s-ha:podCidr"] = "10.100.0.0/16";
        config["do-k8s-ha:serviceCidr"] = "10.96.0.0/16";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        Assert.That(mocks.Named("addons-kubernetes-dashboard").Inputs["version"], Is.EqualTo("7.12.0"));
        var dns = mocks.Resources.Single(r => r.Name == "addons-nodelocaldns");
        Assert.That(dns.Inputs["yaml"].ToString(), Does.Contain("k8s-dns-node-cache:1.25.0").And.Contains("169.254.20.10,10.96.0.10"));
    }

    // Each chart as its documentation installs it: Calico's operator with VXLAN and no BGP (cloud
    // firewalls pass no IP-in-IP and no BGP peering is set up), tunnelling over the kubelet's VPC
    // address; metrics-server verifying the kubelets' certificates. Helm waits for the workloads.
    [Test]
    public async Task EachReleaseIsItsChartFromItsRepositoryWaitedForUntilReady()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:dashboard"] = "true";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;

        string Describe(string name)
        {
            var r = mocks.Named(name);
            return $"{r.Inputs["name"]}: {r.Inputs["chart"]} {r.Inputs["version"]} from {Map(r.Inputs["repositoryOpts"])["repo"]} into {r.Inputs["namespace"]}"
                + $" (create namespace {r.Inputs["createNamespace"]}, timeout {r.Inputs["timeout"]})";
        }
        Assert.That(new[] { "addons-calico", "addons-metrics-server", "addons-kubernetes-dashboard" }.Select(Describe), Is.EqualTo(new[]
        {
            "calico: tigera-operator v3.30.6 from https://docs.tigera.io/calico/charts into tigera-operator (create namespace True, timeout 900)",
            "metrics-server: metrics-server 3.13.0 from https://kubernetes-sigs.github.io/metrics-server/ into kube-system (create namespace True, timeout 900)",
            "kubernetes-dashboard: kubernetes-dashboard 7.13.0 from https://kubernetes.github.io/dashboard/ into kubernetes-dashboard (create namespace True, timeout 900)",
        }));
        Assert.That(Json(mocks.Named("addons-calico").Inputs["values"]), Is.EqualTo(
            """{"installation":{"calicoNetwork":{"bgp":"Disabled","ipPools":[{"blockSize":26,"cidr":"10.233.64.0/18","encapsulation":"VXLAN","natOutgoing":"Enabled","nodeSelector":"all()"}],"nodeAddressAutodetectionV4":{"kubernetes":"NodeInternalIP"}}}}"""));
        Assert.That(Json(mocks.Named("addons-metrics-server").Inputs["values"]), Is.EqualTo(
            """{"args":["--kubelet-certificate-authority=/etc/do-k8s-ha/kubelet-serving-ca/ca.crt"],"extraVolumeMounts":[{"mountPath":"/etc/do-k8s-ha/kubelet-serving-ca","name":"kubelet-serving-ca","readOnly":true}],"extraVolumes":[{"configMap":{"name":"do-k8s-ha-kubelet-serving-ca"},"name":"kubelet-serving-ca"}]}"""));
        Assert.That(Json(mocks.Named("addons-kubernetes-dashboard").Inputs["values"]), Is.EqualTo("{}"));
        // With deleteUnreachable, a `pulumi refresh` while the API is out of the operator's reach
        // (their address left adminCidrs, every control-plane node down) would drop every add-on
        // from the state (pulumi-kubernetes provider.go, Read), and the next `up` would fail on
        // names that still exist. Off: such a refresh fails and changes nothing; a whole-stack
        // destroy skips the add-ons' deletes anyway (deletedWith the cluster's firewall).
        Assert.That(mocks.OfType(Provider).Single().Inputs.GetValueOrDefault("deleteUnreachable", "false"), Is.EqualTo("false"), "a provider's inputs reach it as strings");
    }

    [Test]
    public async Task TheOperatorsBindingGrantsClusterAdminToTheOperatorUserOnly()
    {
        var result = await StackRun.SharedAsync("dev");
        var binding = result.Mocks.OfType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").Single();

        Assert.That(Json(binding.Inputs.Where(i => i.Key != "subjects").ToDictionary()), Is.EqualTo(
            """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"do-k8s-ha:operators"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}}"""));
        var subject = ((IEnumerable)binding.Inputs["subjects"]).Cast<IDictionary<string, object>>().Single();
        Assert.That((subject["apiGroup"], subject["kind"]), Is.EqualTo(("rbac.authorization.k8s.io", "User")));
    }

    [Test]
    public async Task TheProviderUsesTheProgramsOwnKubeconfigAndWaitsForTheApi()
    {
        var result = await StackRun.SharedAsync("dev");
        var mocks = result.Mocks;
        var provider = mocks.OfType(Provider).Single();

        // The same endpoint and CA as the exported one, with the program's identity.
        var exported = await result.Output<string>("kubeconfig").ValueAsync();
        Assert.That(provider.Inputs["kubeconfig"], Is.Not.EqualTo(exported));
        Assert.That(provider.Inputs["kubeconfig"].ToString()!.Split('\n').Where(l => !l.Contains("client-", StringComparison.Ordinal)),
            Is.EqualTo(exported.Split('\n').Where(l => !l.Contains("client-", StringComparison.Ordinal))));
        // Through the balancer's SSH relay, which lands only on a node the balancer finds ready: the
        // API answers through the balancer then. Nothing runs where `pulumi up` runs.
        var wait = mocks.Named("addons.api-ready");
        var relay = (IDictionary<string, object>)wait.Inputs["connection"];
        Assert.That(relay["host"], Is.EqualTo(ClusterMocks.LoadBalancerIp));
        Assert.That(relay["port"], Is.EqualTo(2222));
        Assert.That(SshDial.RetriedFor(Convert.ToInt32(relay["dialErrorLimit"], System.Globalization.CultureInfo.InvariantCulture)), Is.GreaterThanOrEqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(wait.Input("stdin"), Does.Contain("ENDPOINT='https://127.0.0.1:6443'"));
        Assert.That(wait.RegisteredAt, Is.GreaterThan(mocks.Named("control-plane-node1").CompletedAt), "the API is awaited only once init ran");
        Assert.That(provider.RegisteredAt, Is.GreaterThan(wait.CompletedAt), "no add-on before the API answers");
        Assert.That(mocks.Named("addons-metrics-server").RegisteredAt, Is.GreaterThan(mocks.Named("addons-calico").CompletedAt));
    }

    [Test]
    public async Task WithoutALoadBalancerTheAddonsWaitForTheInitNodesApi()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = (await StackRun.RunAsync("dev", config)).Mocks;
        var wait = mocks.Named("addons.api-ready");
        var connection = (IDictionary<string, object>)wait.Inputs["connection"];

        Assert.That(connection["host"], Is.EqualTo(ClusterMocks.PublicIp("node1")));
        Assert.That(connection.TryGetValue("port", out var port) ? port : 22, Is.EqualTo(22));
        Assert.That(mocks.OfType(Provider).Single().RegisteredAt, Is.GreaterThan(wait.CompletedAt));
    }

    [Test]
    public async Task TheHealthGateRunsLastAndExportsTheLeaders()
    {
        var result = await StackRun.SharedAsync("dev");
        var mocks = result.Mocks;
        var gate = mocks.Named("health-check");

        foreach (var before in new[] { "control-plane-node1", "control-plane-node2", "workers-node3-join", "addons-calico", "addons-metrics-server" })
        {
            Assert.That(gate.RegisteredAt, Is.GreaterThan(mocks.Named(before).CompletedAt), $"the gate waits for {before}");
        }
        var script = gate.Input("create");
        Assert.That(script, Does.Contain("EXPECTED_NODES='node1 node2 node3'").And.Contains("REQUIRE_ALL=true"));
        Assert.That(await result.Output<string>("schedulerLeader").ValueAsync(), Is.EqualTo("node1"));
        Assert.That(await result.Output<string>("controllerManagerLeader").ValueAsync(), Is.EqualTo("node2"));
        Assert.That(await Output.IsSecretAsync(result.Output<string>("schedulerLeader")), Is.False);
    }

    [Test]
    public async Task EtcdOnlyNodesAreNotExpectedToBeReady()
    {
        var mocks = (await StackRun.SharedAsync("prod")).Mocks;
        Assert.That(mocks.Named("health-check").Input("create"), Does.Contain("EXPECTED_NODES='cp1 cp2 cp3 worker1 worker2 worker3'"));
    }

    [Test]
    public async Task AddingAControlPlaneNodeUpdatesEveryProxy()
    {
        var before = (await StackRun.SharedAsync("dev")).Mocks;
        var nodes = """
            [{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},
             {"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["control-plane"]}]
            """;
        var after = (await StackRun.RunAsync("dev", StackRun.WithNodes(nodes))).Mocks;

        var proxy = after.Named("node-setup-node3").Input("create");
        Assert.That(proxy, Does.Contain("server 10.240.0.5:6443 "));
        Assert.That(before.Named("node-setup-node3").Input("create"), Does.Not.Contain("10.240.0.5"));
        // The join itself does not change: kubelet keeps talking to its proxy, 127.0.0.1:6444.
        Assert.That(after.Named("workers-node3-join").Inputs, Is.EquivalentTo(before.Named("workers-node3-join").Inputs));
    }

    [TestCase("scheduler-leader=node2\ncontroller-manager-leader=node1\n", "scheduler-leader", "node2")]
    [TestCase("noise\ncontroller-manager-leader=cp3", "controller-manager-leader", "cp3")]
    [TestCase("nothing here", "scheduler-leader", "")]
    // A key is the whole name before "=": a longer key that starts with it is another field.
    [TestCase("scheduler-leader-before=node9\nscheduler-leader=node1", "scheduler-leader", "node1")]
    public void LeaderFieldsAreReadFromTheGatesReport(string stdout, string key, string expected) =>
        Assert.That(Components.HealthGate.Field(stdout, key), Is.EqualTo(expected));

    // docs/day-2.md "Check the cluster's health" runs the gate's scripts by the names it keeps them under.
    [Test]
    public async Task TheHealthRunbookRunsTheScriptsTheGateKeepsOnTheNode()
    {
        var gate = (await StackRun.SharedAsync("dev")).Mocks.Named("health-check").Input("stdin");
        var runbook = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(Repo.Path("docs", "day-2.md")), @"/var/lib/do-k8s-ha/steps/([a-z0-9-]+)\.sh")
            .Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.That(runbook, Is.EquivalentTo(new[] { "etcd-health-all", "cluster-health", "cert-expiry" }));
        Assert.That(gate, Does.Contain($"steps={Sh.Quote(Render.StepsDir)}"));
        foreach (var script in runbook)
        {
            Assert.That(gate, Does.Contain($"cat > \"$steps/{script}.sh\""), script);
        }
    }

    [TestCase("calicoVersion", "latest", "calicoVersion: 'latest' is not a version")]
    [TestCase("dashboard", "yes", "dashboard: 'yes' is not true or false")]
    public void BadAddonSettingsAreNamed(string key, string value, string expected)
    {
        var config = StackRun.StackConfig("dev");
        config[$"do-k8s-ha:{key}"] = value;
        var error = Assert.CatchAsync(() => StackRun.RunAsync("dev", config));
        Assert.That(error!.ToString(), Does.Contain($"do-k8s-ha:{expected}"));
    }

    [Test]
    public async Task ASecondUpOfAnUnchangedStackChangesNothing()
    {
        // Two runs with the same config: the engine diffs every resource's inputs, so any input
        // that differs (a clock in a trigger, say) is an update on every `pulumi up`.
        var first = (await StackRun.SharedAsync("dev")).Mocks;
        var second = (await StackRun.SharedAsync("dev")).Mocks;

        Assert.That(second.Resources.Count, Is.EqualTo(first.Resources.Count));
        foreach (var resource in first.Resources)
        {
            var again = second.Resources.Single(r => r.Type == resource.Type && r.Name == resource.Name);
            Assert.That(System.Text.Json.JsonSerializer.Serialize(again.Inputs), Is.EqualTo(System.Text.Json.JsonSerializer.Serialize(resource.Inputs)), $"{resource.Type} {resource.Name}");
        }
    }

    [Test]
    public async Task TheHealthGateRunsAgainWhenADropletOrTheVersionChanges()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;
        var triggers = ((IEnumerable)mocks.Named("health-check").Inputs["triggers"]).Cast<object>().Select(t => t.ToString()).ToList();

        Assert.That(triggers, Is.SupersetOf(new[] { ClusterMocks.DropletIdOf("node1"), ClusterMocks.DropletIdOf("node2"), ClusterMocks.DropletIdOf("node3"), Config.ConfigDefaults.KubernetesVersion }));
    }

    [Test]
    public async Task ReplacingTheInitNodeKeepsTheKubernetesProviderAndItsAddons()
    {
        // The preview of node1's replacement: its control-plane step's outputs are unknown. A
        // kubeconfig derived from them would be unknown too, and pulumi-kubernetes would replace
        // the provider and uninstall every add-on.
        var mocks = new ClusterMocks { OutputsUnknown = new HashSet<string> { "control-plane-node1", "node1" } };
        await StackRun.RunAsync("dev", StackRun.StackConfig("dev"), mocks, isPreview: true);

        var provider = mocks.OfType(Provider).Single();
        Assert.That(provider.Inputs.ContainsKey("kubeconfig"), Is.True);
        Assert.That(provider.Inputs["kubeconfig"].ToString(), Does.Not.Contain(ClusterMocks.Unknown).And.Contain("server: https://"));
        Assert.That(provider.Inputs["clusterIdentifier"], Is.EqualTo(StackRun.ClusterName("dev")));
    }

    /// <summary>
    /// Without a balancer the add-ons reach the API at the first control-plane node's public
    /// address, which its API server's certificate names only once apiserver-endpoints-node1 has
    /// run: a replaced node1 joins with the names kubeadm-config held (the old address), so the
    /// provider waits for that step, or its TLS handshake is refused for the new address.
    /// </summary>
    [Test]
    public async Task WithoutABalancerTheAddonsWaitForTheFirstNodesCertificateNames([Values] bool preview)
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:apiLoadBalancer"] = "none";
        var mocks = new ClusterMocks { Hold = ((type, name) => name == "apiserver-endpoints-node1", TimeSpan.FromSeconds(2)) };
        await StackRun.RunAsync("dev", config, mocks, isPreview: preview);

        Assert.That(mocks.OfType(Provider).Single().RegisteredAt, Is.GreaterThan(mocks.Named("apiserver-endpoints-node1").CompletedAt));
    }

    [Test]
    public async Task RemoteStepsSendNoPreviousOutputAsSshEnvironment()
    {
        var mocks = (await StackRun.SharedAsync("dev")).Mocks;

        Assert.That(mocks.OfType("command:remote:Command").Select(c => c.Inputs.GetValueOrDefault("addPreviousOutputInEnv")), Is.All.EqualTo(false));
    }
}
