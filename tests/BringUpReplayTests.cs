using DoK8sHa.Config;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The dev stack's `pulumi up` replayed on test droplets (<see cref="Replay"/>): every droplet
/// boots its own user data, every remote step runs over SSH as pulumi-command runs it, in an
/// order the engine could choose, with the step's real output flowing on, to the health gate.
/// </summary>
[NonParallelizable]
public class BringUpReplayTests
{
    // The dev stack's inventory and the same with a worker, node4.
    private const string DevNodes = """[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},{"name":"node3","roles":["etcd","worker"]}]""";
    private const string WithWorker = """[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane","etcd","worker"]},{"name":"node3","roles":["etcd","worker"]},{"name":"node4","roles":["worker"]}]""";
    private static readonly string[] Droplet = ["node1", "node2", "node3", "node4", "node5"];

    private Droplets _droplets = null!;
    private ReleaseMirror _mirror = null!;
    private Dictionary<string, string> _settings = [];
    private (string Key, string Value) _checksums;

    [SetUp]
    public void MakeDroplets()
    {
        Repo.RequireTool("etcd", "apt-get install etcd-server");
        Repo.RequireTool("python3", "apt-get install python3");
        _droplets = Droplets.Create(Droplet.Length);
        _mirror = new ReleaseMirror(_droplets);
        var sha = _mirror.AddEtcdRelease(RealEtcd.Version);
        _checksums = _mirror.AddKubernetesRelease(ConfigDefaults.KubernetesVersion);
        // The balancer's targets are the control-plane droplets (their tag), which depend on the
        // inventory; every droplet is a candidate here, and only a node whose API server passes
        // the health check is admitted: none but a control-plane node runs one.
        _mirror.Serve([.. _droplets.All.Select(d => d.Address)]);
        _settings = new()
        {
            ["do-k8s-ha:etcdVersion"] = RealEtcd.Version,
            ["do-k8s-ha:etcdSha256"] = sha,
            // The mirror's release files are the stand-ins, not the table's.
            [_checksums.Key] = _checksums.Value,
        };
    }

    [TearDown]
    public void DestroyDroplets() => _droplets?.Dispose();

    /// <summary>
    /// The dev stack comes up to a passing health gate, its exported kubeconfig working from the
    /// operator's host through the balancer; then every step runs a second time on the cluster it
    /// made: nothing is made twice, and the gate passes again.
    /// </summary>
    [Test]
    public async Task TheDevStackComesUpAndEveryStepRunsASecondTime()
    {
        var replay = new Replay(_droplets, seed: 3) { Nodes = Droplet };
        await Up(replay);
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
        Assert.That(OperatorKubectl(replay, "get nodes -o name"), Is.EqualTo("node/node1\nnode/node2\nnode/node3\n"));
        Assert.That(OperatorKubectl(replay, "get node node2 -o jsonpath={.metadata.labels}"), Does.Contain("node-role.kubernetes.io/control-plane"));
        var firstRun = replay.Ran.Count;
        replay.RunEveryStep = true;
        await Up(replay);


        Assert.That(replay.Ran, Has.Count.EqualTo(2 * firstRun), "every step ran again");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
        Assert.That(KubeadmCalls(0, "kubeadm init"), Is.EqualTo(1), "the cluster is made once");
        Assert.That(KubeadmCalls(1, "kubeadm join"), Is.EqualTo(1), "node2 joins once");
        Assert.That(KubeadmCalls(2, "kubeadm join"), Is.EqualTo(1), "node3 joins once");
        Assert.That(EtcdMembers(), Has.Length.EqualTo(3));
    }

    /// <summary>
    /// node2's control-plane join and node3's worker join each stop half-way once (the kubelet's
    /// TLS bootstrap times out: kubeadm leaves the kubelet running, bootstrap-kubelet.conf, the
    /// manifests or the cluster CA); `pulumi up` fails there, and the next `pulumi up` completes it.
    /// </summary>
    [Test]
    public async Task AJoinThatFailsHalfWayIsRunAgain()
    {
        foreach (var node in new[] { _droplets[1], _droplets[2] })
        {
            _droplets.Exec(node, "mkdir -p /run/kubeadm-stand-in/faults && touch /run/kubeadm-stand-in/faults/kubelet-wait-bootstrap");
        }
        var replay = new Replay(_droplets, seed: 4) { Nodes = Droplet };

        // Each join fails once, in whichever update reaches it first; the update after completes it.
        var failedUpdates = 0;
        var failures = new List<string>();
        while (true)
        {
            try
            {
                await replay.UpAsync(_settings);
                break;
            }
            catch (Exception e)
            {
                failedUpdates++;
                failures.AddRange(replay.Failures.Select(f => $"update {failedUpdates}, {f.Key}:\n{f.Value}"));
                Assert.That(failedUpdates, Is.LessThanOrEqualTo(2), e.Message);
                Assert.That(string.Join("\n", replay.Failures.Values), Does.Contain("kubelet-wait-bootstrap"), e.Message);
                Assert.That(replay.Failures.Keys, Is.SubsetOf(new[] { "control-plane-node2", "workers-node3-join" }));
            }
        }

        Assert.That(failedUpdates, Is.GreaterThan(0));
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
        Assert.That(OperatorKubectl(replay, "get node node2 -o jsonpath={.metadata.labels}"), Does.Contain("node-role.kubernetes.io/control-plane"));
        Assert.That(KubeadmCalls(1, "kubeadm join"), Is.EqualTo(2), "node2: the half-done join, then the one that completed\n" + string.Join("\n", failures));
        Assert.That(KubeadmCalls(2, "kubeadm join"), Is.EqualTo(2), "node3: the half-done join, then the one that completed\n" + string.Join("\n", failures));
    }

    /// <summary>
    /// node1's `kubeadm init` stops at wait-control-plane once (its API server not healthy in
    /// time): kubeadm leaves kubelet.conf, the manifests and a running API server, and no
    /// cluster-info. `pulumi up` fails there; the next one clears what the init left and runs it
    /// again, and node2 and node3 join the cluster it makes.
    /// </summary>
    [Test]
    public async Task AnInitThatStopsHalfWayIsRunAgain()
    {
        _droplets.Exec(_droplets[0], "mkdir -p /run/kubeadm-stand-in/faults && touch /run/kubeadm-stand-in/faults/wait-control-plane");
        var replay = new Replay(_droplets, seed: 10) { Nodes = Droplet };

        var first = Assert.CatchAsync(() => replay.UpAsync(_settings));
        Assert.That(replay.Failures.Keys, Does.Contain("control-plane-node1"), first?.Message);
        Assert.That(replay.Failures["control-plane-node1"], Does.Contain("wait-control-plane"));

        await Up(replay);

        Assert.That(replay.Outputs["control-plane-node1"], Does.Contain("kubeadm init on node1 stopped half-way on an earlier run; clearing what it left")
            .And.Contain("running kubeadm init on node1 again"));
        Assert.That(KubeadmCalls(0, "kubeadm init"), Is.EqualTo(2), "the half-done init, then the one that completed");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
    }

    /// <summary>node4, a worker, leaves the inventory: it is drained and its Node deleted before its droplet goes.</summary>
    [Test]
    public async Task AWorkerLeaves()
    {
        var replay = new Replay(_droplets, seed: 5) { Nodes = Droplet };
        await Up(replay, WithWorker);
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3 node4"));

        await Up(replay, DevNodes);

        Assert.That(replay.Ran, Has.Some.Matches<string>(s => s.Contains("node4", StringComparison.Ordinal) && s.EndsWith("(delete)", StringComparison.Ordinal)), string.Join(", ", replay.Ran));
        Assert.That(OperatorKubectl(replay, "get nodes -o name"), Is.EqualTo("node/node1\nnode/node2\nnode/node3\n"));
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
    }

    /// <summary>node2's droplet is replaced: its member and Node leave first, the new droplet joins etcd and the control plane.</summary>
    [Test]
    public async Task Node2IsReplaced()
    {
        var replay = new Replay(_droplets, seed: 6) { Nodes = Droplet };
        await Up(replay);
        var oldMember = EtcdMembers().Single(m => m.Contains("node2", StringComparison.Ordinal)).Split(',')[0];

        replay.ReplaceDroplet("node2");
        await Up(replay);

        Assert.That(replay.Ran, Has.Some.Matches<string>(s => s.Contains("node2", StringComparison.Ordinal) && s.EndsWith("(delete)", StringComparison.Ordinal)), string.Join(", ", replay.Ran));
        Assert.That(replay.Outputs["leave-node2.etcd (delete)"], Does.Match("etcd-snapshot: /var/lib/etcd-snapshots/node[12]-[0-9TZ]+-before-change.db").And.Contain("removed etcd member"),
            "a snapshot before the membership changes, then the removal");
        var members = EtcdMembers();
        Assert.That(members, Has.Length.EqualTo(3), string.Join("\n", members));
        Assert.That(members.Single(m => m.Contains("node2", StringComparison.Ordinal)).Split(',')[0], Is.Not.EqualTo(oldMember), "a new member for the new droplet");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
        Assert.That(OperatorKubectl(replay, "get node node2 -o jsonpath={.metadata.labels}"), Does.Contain("node-role.kubernetes.io/control-plane"));
    }

    /// <summary>
    /// node1 dies on a stack of three control-plane nodes, and is listed in lostNodes. No change
    /// needs it: a worker is added, then replaced; node2 is replaced; an upgrade completes on every
    /// other node (node2 runs `kubeadm upgrade apply`, its preflight passing the dead node by).
    /// Each runs through a live control-plane node (the balancer's relay), and each update ends at
    /// a passing gate that names node1 unchecked.
    /// </summary>
    [Test]
    public async Task WithNode1DeadAWorkerIsAddedAndReplacedNode2ReplacedAndAnUpgradeCompleted()
    {
        const string ThreeControlPlanes = """[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane"]},{"name":"node3","roles":["control-plane","etcd","worker"]},{"name":"node4","roles":["etcd","worker"]}]""";
        const string WithNode5 = """[{"name":"node1","roles":["control-plane","etcd"]},{"name":"node2","roles":["control-plane"]},{"name":"node3","roles":["control-plane","etcd","worker"]},{"name":"node4","roles":["etcd","worker"]},{"name":"node5","roles":["worker"]}]""";
        var replay = new Replay(_droplets, seed: 11) { Nodes = Droplet };
        // On the newest release of the minor before the default's, which the upgrade at the end moves to.
        var previousMinor = ReleaseTable.Versions.Last(v => v.Minor == ReleaseTable.Newest.Minor - 1).ToString();
        var before = _mirror.AddKubernetesRelease(previousMinor);
        var start = new Dictionary<string, string>(_settings) { [before.Key] = before.Value, ["do-k8s-ha:kubernetesVersion"] = previousMinor };
        await Up(replay, ThreeControlPlanes, start);
        replay.Kill("node1");
        // Dead means every process: its sandboxed etcd answers no peer either.
        var peer = _droplets.Exec(_droplets[2], $"timeout 3 bash -c '</dev/tcp/{_droplets[0].Address}/2379'");
        Assert.That(peer.ExitCode, Is.Not.Zero, "node1's etcd still listens");
        // The operator lists it once the cluster shows it dead: its kubelet's last status lapsed
        // (the node lifecycle controller's grace period, then Ready "Unknown").
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (OperatorKubectl(replay, "get node node1 -o jsonpath={.status.conditions[?(@.type==\"Ready\")].status}") != "Unknown")
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "node1 is not shown dead");
            Thread.Sleep(2000);
        }
        var settings = new Dictionary<string, string>(start) { ["do-k8s-ha:lostNodes"] = """["node1"]""" };
        const string Healthy = "cluster is healthy: nodes Ready: node2 node3 node4 node5";

        await Up(replay, WithNode5, settings);
        Assert.That(replay.Outputs["health-check"], Does.Contain(Healthy).And.Contain("not checked (lostNodes): node1"), "a worker is added");

        replay.ReplaceDroplet("node5");
        await Up(replay, WithNode5, settings);
        Assert.That(replay.Ran, Does.Contain("leave-node5 (delete)").And.Contain("workers-node5-join"), "the worker is replaced");
        Assert.That(replay.Outputs["health-check"], Does.Contain(Healthy));

        replay.ReplaceDroplet("node2");
        await Up(replay, WithNode5, settings);
        Assert.That(replay.Ran, Does.Contain("leave-node2 (delete)").And.Contain("control-plane-node2.token"), "node2 is replaced");
        Assert.That(OperatorKubectl(replay, "get node node2 -o jsonpath={.metadata.labels}"), Does.Contain("node-role.kubernetes.io/control-plane"));
        Assert.That(replay.Outputs["health-check"], Does.Contain(Healthy));

        settings[_checksums.Key] = _checksums.Value;
        settings["do-k8s-ha:kubernetesVersion"] = ConfigDefaults.KubernetesVersion;
        await Up(replay, WithNode5, settings);
        Assert.That(replay.Outputs["upgrade-node2"], Does.Contain($"upgraded to \"v{ConfigDefaults.KubernetesVersion}\""), "node2 upgrades the cluster");
        Assert.That(replay.RanSteps, Has.None.StartsWith("upgrade-node1"), "node1's place in the roll runs nothing");
        var versions = OperatorKubectl(replay, "get nodes --no-headers -o custom-columns=N:.metadata.name,V:.status.nodeInfo.kubeletVersion")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join('=', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.That(versions, Is.SupersetOf(new[] { "node2", "node3", "node4", "node5" }.Select(n => $"{n}=v{ConfigDefaults.KubernetesVersion}")), "every live node runs the new release");
        Assert.That(OperatorKubectl(replay, "-n kube-system get configmap kubeadm-config -o jsonpath={.data.ClusterConfiguration}"), Does.Contain($"kubernetesVersion: v{ConfigDefaults.KubernetesVersion}"));
        Assert.That(replay.Outputs["health-check"], Does.Contain(Healthy));
    }

    /// <summary>
    /// The renewal clocks of kubeadm's certificates reach their window: one control-plane node
    /// after the other renews its kubeadm certificates with kubeadm (the stand-in's `certs renew`)
    /// and restarts what reads them, each back before the next; node1's API server then serves its
    /// renewed certificate, and the gate passes.
    /// </summary>
    [Test]
    public async Task KubeadmsCertificatesRenewOneControlPlaneNodeAtATime()
    {
        var replay = new Replay(_droplets, seed: 12) { Nodes = Droplet };
        await Up(replay);
        var servedBefore = ServedSerial(_droplets[0]);

        replay.Tls.RenewalWindowOpen = name => name.EndsWith(".clock", StringComparison.Ordinal);
        await Up(replay);
        replay.Tls.RenewalWindowOpen = null;

        foreach (var node in new[] { "node1", "node2" })
        {
            Assert.That(replay.Outputs[$"kubeadm-certs-{node}"], Does.Contain($"restarted {node}'s kube-apiserver with its renewed certificate")
                .And.Contain($"restarted {node}'s kube-controller-manager with its renewed certificate").And.Contain($"restarted {node}'s kube-scheduler with its renewed certificate"));
        }
        Assert.That(KubeadmCalls(0, "kubeadm certs renew apiserver"), Is.EqualTo(1));
        Assert.That(KubeadmCalls(1, "kubeadm certs renew scheduler.conf"), Is.EqualTo(1));
        Assert.That(replay.Ran.ToList().IndexOf("kubeadm-certs-node2"), Is.GreaterThan(replay.Ran.ToList().IndexOf("kubeadm-certs-node1")), "one node after the other");
        Assert.That(ServedSerial(_droplets[0]), Is.Not.EqualTo(servedBefore), "node1's API server serves the renewed certificate");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
    }

    /// <summary>
    /// A new image: every droplet is made anew, one per `pulumi up` (each is an etcd member, two
    /// are control-plane nodes, node1 among them). After each update etcd has its three members
    /// and every key, the API answers through the balancer, and the gate passes; the first
    /// droplets' user data, kept by the others meanwhile, is what each new droplet boots.
    /// </summary>
    [Test]
    public async Task ANewImageRollsThroughEveryDropletKeepingEveryEtcdKey()
    {
        var replay = new Replay(_droplets, seed: 8) { Nodes = Droplet };
        await Up(replay);
        var before = PutKeptObject();
        var settings = new Dictionary<string, string>(_settings) { ["do-k8s-ha:image"] = "ubuntu-22-04-x64" };

        var rolled = new List<string>();
        for (var update = 1; update <= 4; update++)
        {
            var generations = Droplet.Take(3).Select(replay.Generation).ToList();
            await Up(replay, settings: settings);
            var replaced = Droplet.Take(3).Where((n, i) => replay.Generation(n) != generations[i]).ToList();
            if (replaced.Count == 0)
            {
                break;
            }
            Assert.That(replaced, Has.Count.EqualTo(1), $"update {update} replaced {string.Join(' ', replaced)} at once");
            rolled.AddRange(replaced);
            AssertClusterKept(replay, before, $"after update {update}");
        }

        Assert.That(rolled, Is.EqualTo(new[] { "node1", "node2", "node3" }), "each droplet once, in inventory order");
    }

    /// <summary>
    /// A new size on the running dev stack. DigitalOcean resizes a droplet powered off and starts
    /// it again: one per `pulumi up`, each coming back by itself (etcd, the kubelet and its static
    /// pods, the API proxy start because their steps enabled them), and the update ends only when
    /// the health gate, run again, finds every member and node back; no other step runs. etcd keeps
    /// its three members and every key, and no droplet is replaced.
    /// </summary>
    [Test]
    public async Task ANewSizeRestartsOneDropletPerUpdateKeepingEveryEtcdKey()
    {
        var replay = new Replay(_droplets, seed: 5) { Nodes = Droplet };
        await Up(replay);
        var before = PutKeptObject();
        var settings = new Dictionary<string, string>(_settings) { ["do-k8s-ha:size"] = "s-4vcpu-8gb" };

        for (var update = 1; update <= 4; update++)
        {
            var (resizedBefore, ranBefore) = (replay.Resized.Count, replay.RanSteps.Count);
            await Up(replay, settings: settings);
            var resized = replay.Resized.Skip(resizedBefore).ToList();
            if (resized.Count == 0)
            {
                break;
            }
            Assert.That(resized, Has.Count.EqualTo(1), $"update {update} resized {string.Join(' ', resized)} at once");
            var ran = replay.RanSteps.Skip(ranBefore).ToList();
            Assert.That(ran, Is.EqualTo(new[] { "health-check" }), $"update {update}: only the gate runs again, ran {string.Join(", ", ran)}");
            AssertClusterKept(replay, before, $"after update {update}");
        }
        Assert.That(replay.Resized, Is.EqualTo(new[] { "node1", "node2", "node3" }), "each droplet once, in inventory order");
        Assert.That(Droplet.Take(3).Select(replay.Generation), Is.All.Zero, "no droplet was replaced");
    }

    /// <summary>
    /// A new SSH key, rotated as the README says: the new key is added on every node with the old
    /// one, then the config takes it. pulumi-command runs every step's command again when its
    /// connection changes (the rolling upgrade's too, for the same version), each over the new key;
    /// nothing is made twice, etcd keeps every key, and no droplet is replaced.
    /// </summary>
    [Test]
    public async Task ANewSshKeyRunsEveryStepAgainOverIt()
    {
        var replay = new Replay(_droplets, seed: 6) { Nodes = Droplet };
        await Up(replay);
        var everyStep = replay.RanSteps.ToHashSet();
        var before = EtcdKeys();
        var newKey = Path.Combine(_droplets.Hosts.Dir, "new_key");
        Assert.That(Repo.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rotated@do-k8s-ha-test", "-f", newKey]).ExitCode, Is.Zero);

        RunReadmeKeyRotation(replay, newKey);
        var settings = new Dictionary<string, string>(_settings)
        {
            ["do-k8s-ha:sshPublicKey"] = File.ReadAllText(newKey + ".pub").Trim(),
            ["do-k8s-ha:sshPrivateKey"] = File.ReadAllText(newKey),
        };
        var ranBefore = replay.RanSteps.Count;
        await Up(replay, settings: settings);

        var rotated = replay.RanSteps.Skip(ranBefore).ToList();
        Assert.That(rotated, Is.SupersetOf(everyStep), "every step ran again over the new key");
        Assert.That(rotated, Does.Contain("upgrade-node3.uncordon"), "the upgrade's steps too");
        Assert.That(Droplet.Take(3).Select(replay.Generation), Is.All.Zero, "no droplet was replaced");
        Assert.That(KubeadmCalls(0, "kubeadm init"), Is.EqualTo(1), "the cluster is made once");
        Assert.That(EtcdMembers(), Has.Length.EqualTo(3));
        Assert.That(EtcdKeys().Intersect(before), Is.EquivalentTo(before), "every key etcd held is kept");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
    }

    /// <summary>
    /// node2's API server serves a certificate that lacks one of apiServer.certSANs (planted:
    /// `localhost`, a name no step reaches it by, so the cluster works on until the repair): every
    /// step running again, apiserver-endpoints-node2 makes it a new pair with kubeadm, restarts that
    /// API server alone by taking its manifest out of the static pod path and back, and waits until
    /// it serves the new one; node1's is kept.
    /// </summary>
    [Test]
    public async Task AnApiServerCertificateLackingANameIsMadeAgainAndServed()
    {
        var replay = new Replay(_droplets, seed: 7) { Nodes = Droplet };
        await Up(replay);
        var node2 = _droplets[1];
        var balancer = _droplets.Mirror.Address;
        Assert.That(ServedNames(node2), Does.Contain("DNS:localhost"), "kubeadm made it with every name");
        var plant = _droplets.Exec(node2, $"""
            set -euo pipefail
            cd /etc/kubernetes/pki
            openssl req -new -newkey rsa:2048 -nodes -keyout apiserver.key -subj /CN=kube-apiserver 2>/dev/null \
              | openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile <(echo 'subjectAltName=DNS:node2,IP:127.0.0.1,IP:{node2.Address},IP:{balancer}') -out apiserver.crt 2>/dev/null
            pkill -f '[k]ube-apiserver .*--advertise-address={node2.Address}( |$)'
            for _ in $(seq 1 30); do curl -ksf --max-time 2 https://127.0.0.1:6443/readyz >/dev/null && break; sleep 1; done
            """);
        Assert.That(plant.ExitCode, Is.Zero, plant.Stdout + plant.Stderr);
        Assert.That(ServedNames(node2), Does.Not.Contain("DNS:localhost"), "the planted certificate is served");

        replay.RunEveryStep = true;
        await Up(replay);

        Assert.That(replay.Outputs["apiserver-endpoints-node2"], Does.Contain("node2's API server certificate now names 127.0.0.1 localhost " + balancer));
        Assert.That(replay.Outputs["apiserver-endpoints-node1"], Does.Not.Contain("certificate now names"), "node1's certificate was kept");
        Assert.That(ServedNames(node2), Does.Contain("DNS:localhost").And.Contain("IP Address:" + balancer), "node2's API server serves the new pair");
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"));
    }

    /// <summary>
    /// docs/backups.md, "Quorum lost" with every control-plane node lost: node1 and node2 die (both
    /// control-plane nodes, two of three etcd members). On the survivor a snapshot goes to the
    /// bucket and its member is set aside; lostNodes is recorded by the targeted update the
    /// program's warning names (nothing runs); then both droplets are replaced with
    /// etcdRestoreFrom naming the snapshot: the departures run nothing (no node could run them),
    /// every member is restored, node1 restores the control plane once the dead API servers'
    /// leases have lapsed, node2 joins it, and every object is back. Without lostNodes and
    /// etcdRestoreFrom the next update changes nothing on the nodes.
    /// </summary>
    [Test]
    public async Task EveryControlPlaneNodeAndTheQuorumLostAreRestoredAsTheRunbookSays()
    {
        const string Bucket = "k8s-dev-snapshots";
        var key = _mirror.ServeS3(Bucket);
        var settings = new Dictionary<string, string>(_settings) { ["do-k8s-ha:etcdSnapshotBucket"] = Bucket };
        var replay = new Replay(_droplets, seed: 9) { Nodes = Droplet, SpacesKey = key };
        await Up(replay, settings: settings);
        var before = PutKeptObject();

        replay.Kill("node1");
        replay.Kill("node2");
        var node3 = _droplets[2];
        var saved = _droplets.Exec(node3, "etcd-snapshot before-change && systemctl stop etcd && mv /var/lib/etcd /var/lib/etcd.lost-quorum");
        Assert.That(saved.ExitCode, Is.Zero, saved.Stdout + saved.Stderr);
        var snapshot = _mirror.S3Objects(key, Bucket).Single(o => o.StartsWith("etcd/node3-", StringComparison.Ordinal) && o.EndsWith("-before-change.db", StringComparison.Ordinal));

        // The update the program's warning names: it records the disarmed departures, and runs nothing.
        settings["do-k8s-ha:lostNodes"] = """["node1","node2"]""";
        var config = ConfigParserTests.Valid();
        (config["nodes"], config["lostNodes"]) = (DevNodes, settings["do-k8s-ha:lostNodes"]);
        ConfigParserTests.Parse(config, out var warnings);
        var warned = warnings.Single(w => w.Contains("lostNodes", StringComparison.Ordinal));
        var targets = System.Text.RegularExpressions.Regex.Matches(warned, "--target '([^']+)'").Select(m => m.Groups[1].Value).ToList();
        Assert.That(targets, Has.Count.EqualTo(4), warned);
        var ranBefore = replay.RanSteps.Count;
        await replay.UpAsync(settings, targets: targets);
        Assert.That(replay.Failures, Is.Empty);
        Assert.That(replay.RanSteps.Skip(ranBefore), Is.Empty, "the targeted update runs nothing");

        replay.ReplaceDroplet("node1");
        replay.ReplaceDroplet("node2");
        settings["do-k8s-ha:etcdRestoreFrom"] = "spaces:" + snapshot;
        await Up(replay, settings: settings);

        Assert.That(replay.Ran, Has.None.Matches<string>(s => s.StartsWith("leave-", StringComparison.Ordinal)), "no departure ran");
        Assert.That(replay.Outputs["control-plane-node1"], Does.Contain("lostNodes lists every control-plane node and no API server holds a lease: restoring the control plane on node1"));
        Assert.That(replay.Outputs["etcd-node3"], Does.Contain("restored node3's etcd member"));
        AssertClusterKept(replay, before, "after the restore");

        settings.Remove("do-k8s-ha:lostNodes");
        settings.Remove("do-k8s-ha:etcdRestoreFrom");
        var (ranAfter, generations) = (replay.RanSteps.Count, Droplet.Take(3).Select(replay.Generation).ToList());
        await Up(replay, settings: settings);
        Assert.That(Droplet.Take(3).Select(replay.Generation), Is.EqualTo(generations), "no droplet was replaced");
        Assert.That(KubeadmCalls(0, "kubeadm init"), Is.EqualTo(1), "the restored node1 ran init once");
        AssertClusterKept(replay, before, "after lostNodes and etcdRestoreFrom are removed");
        // The steps whose inputs named them run again, and find everything in place.
        var ran = replay.RanSteps.Skip(ranAfter).ToList();
        Assert.That(ran.Where(s => s.StartsWith("control-plane-", StringComparison.Ordinal)).Select(s => replay.Outputs[s]), Has.All.Contain("is already a control-plane node"), string.Join(", ", ran));
        Assert.That(ran.Where(s => s.EndsWith(".service", StringComparison.Ordinal)).Select(s => replay.Outputs[s]), Has.All.Contain("etcd is started").And.All.Not.Contain("restarted"),
            string.Join("\n", ran.Where(s => s.StartsWith("etcd-", StringComparison.Ordinal)).Select(s => $"{s}:\n{replay.Outputs[s]}")));
    }

    /// <summary>The serial of the certificate a node's API server serves on 127.0.0.1:6443.</summary>
    private string ServedSerial(TestHost node)
    {
        var (exit, stdout, stderr) = _droplets.Exec(node, "timeout 10 openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null | openssl x509 -noout -serial");
        Assert.That(exit, Is.Zero, stderr);
        return stdout.Trim();
    }

    /// <summary>The subject alternative names of the certificate a node's API server serves on 127.0.0.1:6443.</summary>
    private string ServedNames(TestHost node)
    {
        var (exit, stdout, stderr) = _droplets.Exec(node, "timeout 10 openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName");
        Assert.That(exit, Is.Zero, stderr);
        return stdout;
    }

    /// <summary>
    /// Writes an object of the cluster's where the API server keeps it (the fake server's JSON),
    /// and returns every key etcd then holds: what <see cref="AssertClusterKept"/> checks.
    /// </summary>
    private string[] PutKeptObject()
    {
        var put = _droplets.Exec(_droplets[0], Etcdctl + """ put /registry/configmaps/kube-system/kept-through-the-roll '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept-through-the-roll","namespace":"kube-system"},"data":{"written":"before"}}'""");
        Assert.That(put.ExitCode, Is.Zero, put.Stderr);
        return EtcdKeys();
    }

    private void AssertClusterKept(Replay replay, string[] keys, string when)
    {
        Assert.That(EtcdMembers(), Has.Length.EqualTo(3), when);
        Assert.That(EtcdKeys().Intersect(keys), Is.EquivalentTo(keys), $"{when}: every key etcd held is kept");
        Assert.That(OperatorKubectl(replay, "-n kube-system get configmap kept-through-the-roll -o jsonpath={.data.written}"), Is.EqualTo("before"), when);
        Assert.That(replay.Outputs["health-check"], Does.Contain("cluster is healthy: nodes Ready: node1 node2 node3"), when);
    }

    /// <summary>
    /// docs/day-2.md "Rotating the SSH key": its loop, as written, from the operator's host with the old
    /// key, over the `nodes` output (`pulumi stack output nodes --json`) and its knownHosts lines.
    /// </summary>
    private void RunReadmeKeyRotation(Replay replay, string newKey)
    {
        var readme = File.ReadAllText(Repo.Path("docs", "day-2.md"));
        var block = readme[readme.IndexOf("**Rotating the SSH key.**", StringComparison.Ordinal)..];
        block = block[(block.IndexOf("```sh\n", StringComparison.Ordinal) + 6)..];
        block = block[..block.IndexOf("```", StringComparison.Ordinal)];
        var loop = string.Join("\n", block.Split('\n').TakeWhile(l => !l.StartsWith("pulumi config", StringComparison.Ordinal)));
        Assert.That(loop, Does.StartWith("for ip in $(pulumi stack output nodes --json | jq -r '.[].publicIp'); do"));

        var dir = Directory.CreateDirectory(Path.Combine(_droplets.Hosts.Dir, "operator-home")).FullName;
        var nodes = (System.Collections.Immutable.ImmutableDictionary<string, System.Collections.Immutable.ImmutableDictionary<string, object>>)replay.StackOutputs["nodes"];
        Directory.CreateDirectory(Path.Combine(dir, ".ssh"));
        File.WriteAllLines(Path.Combine(dir, ".ssh", "known_hosts"), nodes.Values.Select(n => (string)n["knownHosts"]));
        File.WriteAllText(Path.Combine(dir, "nodes.json"), System.Text.Json.JsonSerializer.Serialize(nodes.ToDictionary(n => n.Key, n => new { publicIp = (string)n.Value["publicIp"] })));
        File.Copy(_droplets.OperatorKey, Path.Combine(dir, "old_key"), overwrite: true);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(dir, "old_key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Copy(newKey + ".pub", Path.Combine(dir, "new_key.pub"), overwrite: true);
        // The operator's ~/.ssh/known_hosts holds the nodes' lines (ssh finds ~ from the password
        // database, not $HOME: the wrapper points it there); `pulumi stack output` prints the output.
        var script = "set -euo pipefail\ncd \"$HOME\"\npulumi() { cat nodes.json; }\nssh() { command ssh -o UserKnownHostsFile=\"$HOME/.ssh/known_hosts\" -o BatchMode=yes \"$@\"; }\n" + loop;
        var (exit, stdout, stderr) = _droplets.Hosts.Exec(_droplets.Operator, "env", ["HOME=" + dir, "bash", "-c", script]);
        Assert.That(exit, Is.Zero, stdout + stderr);
    }

    /// <summary>etcdctl on a member, with its own client certificate.</summary>
    private const string Etcdctl = "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/member.crt --key /etc/etcd/pki/member.key";

    /// <summary>Every key in etcd, read on a live member.</summary>
    private string[] EtcdKeys()
    {
        var member = _droplets.All.Take(3).First(h => _droplets.Exec(h, "pgrep -x etcd >/dev/null").ExitCode == 0);
        var (exit, stdout, stderr) = _droplets.Exec(member, Etcdctl + " get '' --prefix --keys-only");
        Assert.That(exit, Is.Zero, stderr);
        // An API server's masterlease lives 15 s past its server (a lease of etcd's own): not data.
        return [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(k => !k.StartsWith("/registry/masterleases/", StringComparison.Ordinal))];
    }

    private string[] EtcdMembers()
    {
        var (exit, stdout, stderr) = _droplets.Exec(_droplets[0], "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/member.crt --key /etc/etcd/pki/member.key member list");
        Assert.That(exit, Is.Zero, stderr);
        return stdout.Trim().Split('\n');
    }

    private async Task Up(Replay replay, string? nodes = null, Dictionary<string, string>? settings = null)
    {
        string? error = null;
        try
        {
            settings ??= _settings;
            await replay.UpAsync(nodes is null ? settings : new Dictionary<string, string>(settings) { ["do-k8s-ha:nodes"] = nodes });
        }
        catch (Exception e)
        {
            error = e.Message;
        }
        Assert.That(replay.Failures, Is.Empty, $"ran: {string.Join(", ", replay.Ran)}\n{error}\n{string.Join("\n\n", replay.Failures.Select(f => $"{f.Key}:\n{f.Value}"))}");
        Assert.That(error, Is.Null, $"ran: {string.Join(", ", replay.Ran)}");
    }

    private int KubeadmCalls(int node, string call) =>
        _droplets.Read(_droplets[node], "/run/kubeadm-stand-in/log").Split('\n').Count(l => l.StartsWith(call, StringComparison.Ordinal));

    /// <summary>kubectl on the operator's host with the kubeconfig the replay's provider was given (the stack's export).</summary>
    private string OperatorKubectl(Replay replay, string args)
    {
        var kubeconfig = replay.ProviderKubeconfig;
        var (exit, stdout, stderr) = _droplets.Hosts.Exec(_droplets.Operator, "kubectl", ["--kubeconfig", kubeconfig, "--request-timeout=20s", .. args.Split(' ')]);
        Assert.That(exit, Is.Zero, stderr);
        return stdout;
    }
}
