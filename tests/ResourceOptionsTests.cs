using System.Collections.Concurrent;
using DoK8sHa.Tests.Support;
using Pulumi;
using Pulumi.Testing;

namespace DoK8sHa.Tests;

/// <summary>
/// Resource options the engine acts on and mocks never see, captured by a stack transformation:
/// what makes `pulumi up --replace` clean up before it rebuilds, and upgrades not replace droplets.
/// </summary>
public class ResourceOptionsTests
{
    // Checked before any resource is made: a step with two scripts would run one of them on stdin for the other.
    [TestCase(true, true, false, 2)]
    [TestCase(false, false, false, 0)]
    [TestCase(true, false, true, 2)]
    public void ARemoteStepRunsExactlyOneScript(bool create, bool update, bool delete, int count)
    {
        var args = new DoK8sHa.Components.RemoteStepArgs
        {
            Create = create ? (Input<string>)"a" : null,
            Update = update ? (Input<string>)"b" : null,
            Delete = delete ? (Input<string>)"c" : null,
        };
        var error = Assert.Throws<ArgumentException>(() => DoK8sHa.Components.RemoteStep.Create("node1.step", null!, args))!;
        Assert.That(error.Message, Is.EqualTo($"remote step node1.step needs exactly one of Create, Update and Delete, not {count}"));
    }

    private static readonly ConcurrentDictionary<string, (string Type, ResourceOptions Options)> Seen = new();

    private sealed class CapturingStack : Stack
    {
        public CapturingStack()
            : base(new StackOptions
            {
                ResourceTransformations =
                {
                    args =>
                    {
                        Seen[$"{args.Resource.GetResourceType()}::{args.Resource.GetResourceName()}"] = (args.Resource.GetResourceType(), args.Options);
                        return null;
                    },
                },
            }) =>
            // The program awaits its previous deployment before it registers the rest: an output
            // of the stack holds the run until it is done, as Deployment.RunAsync's would.
            Done = Output.Create(RunToEnd());

        [Output("done")]
        public Output<bool> Done { get; private set; }

        private static async Task<bool> RunToEnd()
        {
            await ClusterProgram.Run();
            return true;
        }
    }

    [OneTimeSetUp]
    public async Task RunTheProgram()
    {
        Seen.Clear();
        var config = StackRun.StackConfig("dev");
        Environment.SetEnvironmentVariable("PULUMI_CONFIG", System.Text.Json.JsonSerializer.Serialize(config));
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", """["do-k8s-ha:sshPrivateKey"]""");
        try
        {
            await Deployment.TestAsync<CapturingStack>(new ClusterMocks(), new TestOptions { ProjectName = "do-k8s-ha", StackName = "dev", IsPreview = false });
        }
        finally
        {
            Environment.SetEnvironmentVariable("PULUMI_CONFIG", null);
            Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", null);
        }
    }

    /// <summary>The options of the one resource of that name that is not a component of this program.</summary>
    private static ResourceOptions OptionsOf(string name, string? type = null)
    {
        var seen = Seen.Where(s => s.Key.EndsWith($"::{name}", StringComparison.Ordinal) && !s.Value.Type.StartsWith("do-k8s-ha:", StringComparison.Ordinal)
            && (type is null || s.Value.Type == type)).ToList();
        return seen.Count == 1 ? seen[0].Value.Options : throw new AssertionException($"{seen.Count} resources named {name}");
    }

    private static CustomResourceOptions Of(string name, string? type = null) => (CustomResourceOptions)OptionsOf(name, type);

    [TestCase("node1")]
    [TestCase("node3")]
    public void AReplacedDropletLeavesTheClusterBeforeItsSuccessorJoins(string droplet)
    {
        var options = Of(droplet);
        // Its steps are deleted first (its departure from another node: drain, delete the Node,
        // etcd member remove), then the droplet, and only then is the new one created and joined.
        Assert.That(options.DeleteBeforeReplace, Is.True);
        // ignoreChanges on userData would make a replacement boot the stored, stale user data
        // (the engine keeps an ignored property's old value for a replacement too).
        Assert.That(options.IgnoreChanges, Does.Not.Contain("userData"), "a replacement must boot the current user data");
        Assert.That(options.ReplaceOnChanges, Does.Contain("tags"), "new roles are a new node: nothing of the old ones stays on it");
    }

    [TestCase("etcd-node1")]
    [TestCase("control-plane-node2")]
    [TestCase("workers-node3-join")]
    [TestCase("upgrade-node3")]
    [TestCase("leave-node1")]
    [TestCase("leave-node3.etcd")]
    public void RemoteStepsAreTornDownBeforeTheyAreRecreated(string step)
    {
        var options = Of(step);
        Assert.That(options.DeleteBeforeReplace, Is.True);
        Assert.That(options.AdditionalSecretOutputs, Is.SupersetOf(new[] { "stdout", "stderr" }));
    }

    // A CA made again would orphan every node and kubeconfig: a newer program that asks for its
    // CAs differently (subject, uses, key, extensions, validity) must not replace them, and no
    // input of a self-signed certificate is left to replace it (pulumi-tls SelfSignedCertArgs).
    [TestCase("pki-ca")]
    [TestCase("pki-front-proxy-ca")]
    [TestCase("pki-etcd-ca")]
    public void TheCertificateAuthoritiesAreNeverMadeAgain(string name)
    {
        Assert.That(Of(name, "tls:index/selfSignedCert:SelfSignedCert").IgnoreChanges, Is.EquivalentTo(new[]
        {
            "privateKeyPem", "subject", "isCaCertificate", "setSubjectKeyId", "validityPeriodHours", "earlyRenewalHours", "allowedUses", "dnsNames", "ipAddresses", "uris",
        }));
        Assert.That(Of(name, "tls:index/privateKey:PrivateKey").IgnoreChanges, Is.EquivalentTo(new[] { "algorithm", "rsaBits", "ecdsaCurve" }));
    }

    // Keys whose replacement breaks a running cluster are kept against a newer program's other
    // request: the service-account key (the API servers verify every issued token with it) and
    // each Secrets encryption key's seed (a new one leaves the Secrets under the old unreadable).
    [TestCase("pki-sa", new[] { "algorithm", "rsaBits", "ecdsaCurve" })]
    [TestCase("pki-encryption-key1", new[] { "algorithm", "ecdsaCurve" })]
    public void KeysTheClusterDependsOnAreNeverMadeAgain(string name, string[] kept) =>
        Assert.That(Of(name, "tls:index/privateKey:PrivateKey").IgnoreChanges, Is.EquivalentTo(kept));

    // Leaf keys may change with the program: a new key is a renewal, and the steps carry it.
    [TestCase("pki-admin")]
    [TestCase("pki-operator")]
    [TestCase("pki-node1.etcd-member")]
    public void LeafKeysAreNotKeptAgainstChange(string name) =>
        Assert.That(Of(name, "tls:index/privateKey:PrivateKey").IgnoreChanges, Is.Empty);

    // Every private key's private forms stay secret in the state (pulumi-tls's SDK marks them in
    // PrivateKey.MakeResourceOptions; the options captured here are the merged ones).
    [Test]
    public void EveryPrivateKeysPrivateFormsAreSecret()
    {
        var keys = Seen.Where(s => s.Value.Type == "tls:index/privateKey:PrivateKey").ToList();
        Assert.That(keys, Has.Count.GreaterThan(10));
        foreach (var (name, (_, options)) in keys)
        {
            Assert.That(((CustomResourceOptions)options).AdditionalSecretOutputs, Is.SupersetOf(new[] { "privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh" }), name);
        }
    }

    // Each step that makes a node part of the cluster depends on the node's own departure steps,
    // so the old machine has left before the new one joins whatever order the engine picks
    // (asserted on the registered dependencies, not on the mocks' timing).
    [TestCase("workers-node3-join", "leave-node3")]
    [TestCase("control-plane-node1", "leave-node1")]
    [TestCase("control-plane-node2", "leave-node2")]
    [TestCase("etcd-node1", "leave-node1.etcd")]
    [TestCase("etcd-node3", "leave-node3.etcd")]
    public async Task ANodeJoinsOnlyAfterItsOwnDeparture(string step, string departure) =>
        Assert.That(await DependenciesOf(step), Does.Contain(departure));

    // Under `--parallel`, a step that is ready waits for a slot in arrival order: a worker's
    // setup (packages, proxy) waits for the cluster's creation, which it cannot join before, so
    // the control plane's steps are not queued behind every worker's (bench: ratio100to3At32).
    // A control-plane node's setup cannot: kubeadm init and the joins need it.
    [Test]
    public async Task AWorkersSetupWaitsForTheClusterAndAControlPlaneNodesDoesNot()
    {
        Assert.That(await DependenciesOf("node-setup-node3"), Does.Contain("control-plane-node1"));
        Assert.That(await DependenciesOf("node-setup-node2"), Does.Not.Contain("control-plane-node1").And.Contain("node2.bootstrapped"));
    }

    // A URN names the types of a resource's parents, not their names: the workers' setup steps,
    // in a component of their own since they wait for the cluster, keep the URNs existing
    // stacks hold, so the engine neither replaces nor re-runs them.
    [TestCase("node-setup-node2")]
    [TestCase("node-setup-node3")]
    public void EveryNodesSetupStepKeepsItsUrn(string step) =>
        Assert.That(QualifiedType("command:remote:Command", step), Is.EqualTo("do-k8s-ha:index:KubernetesNodeSetup$command:remote:Command"));

    /// <summary>
    /// The type part of the URN the engine gives a resource: its parent's, then "$" and its own,
    /// where the stack counts as no parent (pulumi pkg/resource/deploy/source_eval.go,
    /// RegisterResource; pkg/resource/urn.go). Pulumi's test mocks put the stack's type first
    /// for any parent (Testing/MockMonitor.cs NewUrn), so this follows the captured parents.
    /// </summary>
    private static string QualifiedType(string type, string name)
    {
        var parent = Seen[$"{type}::{name}"].Options.Parent;
        return parent is null or Stack ? type : $"{QualifiedType(parent.GetResourceType(), parent.GetResourceName())}${type}";
    }

    /// <summary>Every resource the named one waits for through dependsOn, directly or through others.</summary>
    private static async Task<ISet<string>> DependenciesOf(string name)
    {
        var found = new HashSet<string>();
        var queue = new Queue<string>([name]);
        while (queue.TryDequeue(out var next))
        {
            var options = Seen.Where(s => s.Key.EndsWith($"::{next}", StringComparison.Ordinal)).Select(s => s.Value.Options).ToList();
            foreach (var option in options)
            {
                foreach (var dependency in await option.DependsOn.ToOutput().ValueAsync())
                {
                    if (found.Add(dependency.GetResourceName()))
                    {
                        queue.Enqueue(dependency.GetResourceName());
                    }
                }
            }
        }
        return found;
    }

    // Every resource is a child of the component it belongs to: its URN carries that component's
    // type, and `pulumi stack` shows the cluster as a tree.
    [Test]
    public void EveryResourceBelongsToAComponent()
    {
        var loose = Seen.Where(s => !s.Value.Type.StartsWith("do-k8s-ha:", StringComparison.Ordinal)
                && s.Value.Type is not ("pulumi:pulumi:StackReference" or "pulumi:pulumi:Stack")
                && s.Value.Options.Parent is null or Stack)
            .Select(s => s.Key).ToList();

        Assert.That(Seen, Has.Count.GreaterThan(50));
        Assert.That(loose, Is.Empty);
    }

    // Renamed steps keep their URNs through an alias: without it the engine would delete the
    // old step, and a departure's delete takes its node out of the cluster.
    [TestCase("node1.bootstrapped", "node1-bootstrapped")]
    [TestCase("leave-node1.etcd", "leave-node1-etcd")]
    [TestCase("leave-node1", null)]
    public async Task ARenamedStepKeepsItsFormerName(string step, string? former)
    {
        var names = new List<string?>();
        foreach (var alias in Of(step).Aliases)
        {
            names.Add(await (await alias.ToOutput().ValueAsync()).Name!.ToOutput().ValueAsync());
        }
        Assert.That(names, Is.EqualTo(former is null ? Array.Empty<string>() : new[] { former }));
    }

    // A joining control-plane node waits for the cluster it joins and for its own token, by its
    // own dependencies; the first node's token is minted before the cluster exists (and empty).
    [Test]
    public async Task AControlPlaneJoinWaitsForInitAndItsTokenAndTheTokenForInit()
    {
        Assert.That(await DirectDependenciesOf("control-plane-node2"), Does.Contain("control-plane-node1").And.Contain("control-plane-node2.token"));
        Assert.That(await DirectDependenciesOf("control-plane-node2.token"), Does.Contain("control-plane-node1"));
        Assert.That(await DirectDependenciesOf("control-plane-node1"), Does.Contain("control-plane-node1.token").And.Not.Contain("control-plane-node2"));
        Assert.That(await DirectDependenciesOf("control-plane-node1.token"), Does.Contain("node2.bootstrapped").And.Not.Contain("control-plane-node1"));
    }

    private static async Task<IReadOnlyList<string>> DirectDependenciesOf(string name) =>
        [.. (await OptionsOf(name).DependsOn.ToOutput().ValueAsync()).Select(r => r.GetResourceName())];

    // Every add-on but Calico needs the pod network: its pods would not start before Calico's,
    // and Helm's wait would time out. Each waits by its own dependency, not by the mocks' timing.
    [TestCase("addons-nodelocaldns")]
    [TestCase("addons-dns-autoscaler")]
    public async Task AnAddonWaitsForThePodNetwork(string addon) =>
        Assert.That(await DirectDependenciesOf(addon), Is.EqualTo(new[] { "addons-calico" }));

    // metrics-server also mounts the CA it trusts for the kubelets: a pod whose ConfigMap is
    // missing does not start. The ConfigMap itself needs only the API.
    [Test]
    public async Task MetricsServerWaitsForThePodNetworkAndTheKubeletServingCa()
    {
        Assert.That(await DirectDependenciesOf("addons-metrics-server"), Is.EquivalentTo(new[] { "addons-calico", "addons-kubelet-serving-ca" }));
        Assert.That(await DirectDependenciesOf("addons-kubelet-serving-ca"), Is.Empty);
    }

    // Calico waits only for the API, through its provider (which depends on the API's answer).
    [Test]
    public async Task ThePodNetworkWaitsForNoOtherAddon() =>
        Assert.That(await DirectDependenciesOf("addons-calico"), Is.Empty);

    [Test]
    public async Task TheHealthGateWaitsForTheDnsAddons() =>
        Assert.That(await DirectDependenciesOf("health-check"), Is.SupersetOf(new[] { "addons-nodelocaldns", "addons-dns-autoscaler" }));

    [Test]
    public async Task TheHealthGateChecksTheClusterAfterEveryDeparture()
    {
        var departures = RemoteStepsStartingWith("leave-");

        Assert.That(departures, Has.Count.EqualTo(6));
        Assert.That(await DirectDependenciesOf("health-check"), Is.SupersetOf(departures));
    }

    [Test]
    public async Task TheHealthGateDependsOnEveryUpgradeStep()
    {
        var upgrades = RemoteStepsStartingWith("upgrade-");

        Assert.That(upgrades, Has.Count.GreaterThanOrEqualTo(3));
        Assert.That(await DirectDependenciesOf("health-check"), Is.SupersetOf(upgrades));
    }

    private static List<string> RemoteStepsStartingWith(string prefix) =>
        [.. Seen.Where(s => s.Value.Type == "command:remote:Command").Select(s => s.Key.Split("::")[1]).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];

    // A whole-stack `pulumi destroy` deletes the cluster's firewall too: then the engine skips the
    // delete of every resource deleted with it (resource option deletedWith), so no departure
    // drains a node of a cluster that is going anyway (nor fails on a dead janitor), and no Helm
    // release is uninstalled from it. Removing one node, or one add-on, still runs its delete.
    [TestCase("leave-node1")]
    [TestCase("leave-node3")]
    [TestCase("leave-node2.etcd")]
    [TestCase("addons-calico")]
    [TestCase("addons-metrics-server")]
    public void AWholeStackDestroySkipsWhatGoesWithTheCluster(string resource) =>
        Assert.That(Of(resource).DeletedWith?.GetResourceName(), Is.EqualTo("network-firewall"));

    // Every add-on object goes to the API through the program's own provider (kubeadm:cluster-admins,
    // not the operators it binds), and goes only with the cluster: ConfigGroups are components
    // (yaml/v2), whose options their objects take.
    [TestCase("addons-operators")]
    [TestCase("addons-calico")]
    [TestCase("addons-metrics-server")]
    [TestCase("addons-kubelet-serving-ca")]
    [TestCase("addons-nodelocaldns")]
    [TestCase("addons-dns-autoscaler")]
    public void EveryAddonGoesThroughTheProgramsProviderAndOnlyWithTheCluster(string resource)
    {
        var options = OptionsOf(resource);
        Assert.That(options.Provider?.GetResourceName(), Is.EqualTo("addons-provider"));
        Assert.That(options.DeletedWith?.GetResourceName(), Is.EqualTo("network-firewall"));
    }

    // What is made once is protected: the engine refuses `pulumi up --replace`, a targeted destroy,
    // a removal from the program and the TLS provider's planned replacement of an expiring CA.
    [TestCase("pki-ca", "tls:index/selfSignedCert:SelfSignedCert")]
    [TestCase("pki-ca", "tls:index/privateKey:PrivateKey")]
    [TestCase("pki-front-proxy-ca", "tls:index/selfSignedCert:SelfSignedCert")]
    [TestCase("pki-front-proxy-ca", "tls:index/privateKey:PrivateKey")]
    [TestCase("pki-etcd-ca", "tls:index/selfSignedCert:SelfSignedCert")]
    [TestCase("pki-kubelet-serving-ca", "tls:index/selfSignedCert:SelfSignedCert")]
    [TestCase("pki-kubelet-serving-ca", "tls:index/privateKey:PrivateKey")]
    [TestCase("pki-etcd-ca", "tls:index/privateKey:PrivateKey")]
    [TestCase("pki-sa", "tls:index/privateKey:PrivateKey")]
    [TestCase("pki-encryption-key1", "tls:index/privateKey:PrivateKey")]
    [TestCase("network-firewall", "digitalocean:index/firewall:Firewall")]
    public void WhatIsMadeOnceIsProtected(string resource, string type) =>
        Assert.That(Of(resource, type).Protect, Is.True);

    // What renews or follows the inventory is not.
    [TestCase("pki-admin", "tls:index/locallySignedCert:LocallySignedCert")]
    [TestCase("pki-operator", "tls:index/privateKey:PrivateKey")]
    [TestCase("node1", "digitalocean:index/droplet:Droplet")]
    [TestCase("network-firewall-etcd", "digitalocean:index/firewall:Firewall")]
    public void WhatRenewsOrFollowsTheInventoryIsNotProtected(string resource, string type) =>
        Assert.That(Of(resource, type).Protect, Is.Not.True);

    [TestCase("control-plane-node1")]
    [TestCase("node1")]
    public void NothingElseIsSkippedOnDestroy(string resource) =>
        Assert.That(Of(resource).DeletedWith, Is.Null);
}
