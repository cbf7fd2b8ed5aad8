using System.Diagnostics;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests;

/// <summary>
/// The etcd certificates and configuration the program renders for the seed topology, started as
/// a real three-member TLS cluster on three test hosts (Debian's etcd 3.4).
/// </summary>
[NonParallelizable]
public class EtcdClusterTests
{
    private TestHosts _hosts = null!;
    private readonly Dictionary<string, Process> _members = [];
    private List<NodeAddress> _nodes = [];

    [SetUp]
    public void StartCluster()
    {
        Repo.RequireTool("etcd", "apt-get install etcd-server");
        Repo.RequireTool("etcdctl", "apt-get install etcd-client");
        Repo.RequireTool("openssl", "apt-get install openssl");
        // Three members, and a spare host for a replacement node.
        _hosts = TestHosts.Create(4);
        _nodes = [.. _hosts.Hosts.Take(3).Select((h, i) => new NodeAddress($"node{i + 1}", h.Address))];
        var pki = RealPki.Material;

        foreach (var (host, node) in _hosts.Hosts.Take(3).Zip(_nodes))
        {
            var certs = _hosts.Bash(host, Render.EtcdCerts(node, pki.EtcdCaCert, RealPki.Member(node), pkiDir: PkiDir(host)));
            Assert.That(certs.ExitCode, Is.Zero, certs.Stderr);
            var config = Path.Combine(host.Dir, "etcd.conf.yml");
            File.WriteAllText(config, Render.EtcdConfig(node, _nodes, "k8s-dev-etcd", pkiDir: PkiDir(host), dataDir: Path.Combine(host.Dir, "data"), etcdVersion: RealEtcd.Version));
            _members[node.Name] = _hosts.StartEtcd(host, config, dataDir: Path.Combine(host.Dir, "data"));
        }
        // `endpoint health --cluster` asks the members the member list names with client URLs: a
        // member that has not published its URLs yet is left out with exit 0. Wait for all three.
        WaitUntil(() => Etcdctl(_hosts[0], "endpoint", "health", "--cluster") is { ExitCode: 0 } health
            && _nodes.All(n => (health.Stdout + health.Stderr).Contains($"https://{n.PrivateIp}:2379 is healthy", StringComparison.Ordinal)), "every member to be healthy");
    }

    [TearDown]
    public void StopCluster() => _hosts?.Dispose();

    private static string PkiDir(TestHost host) => Path.Combine(host.Dir, "pki");

    private string Endpoints => string.Join(",", Render.EtcdClientUrls(_nodes));

    private (int ExitCode, string Stdout, string Stderr) Etcdctl(TestHost from, params string[] args) => EtcdctlAt(Endpoints, from, args);

    private (int ExitCode, string Stdout, string Stderr) EtcdctlAt(string endpoints, TestHost from, params string[] args) =>
        _hosts.Exec(from, "env", [
            "ETCDCTL_API=3", "etcdctl", "--endpoints", endpoints, "--dial-timeout=2s", "--command-timeout=3s",
            "--cacert", Path.Combine(PkiDir(from), "ca.crt"), "--cert", Path.Combine(PkiDir(from), "member.crt"), "--key", Path.Combine(PkiDir(from), "member.key"),
            .. args]);

    /// <param name="timeoutSeconds">0: one pass, its verdict at once (a failing check then waits no clock).</param>
    private (int ExitCode, string Stdout, string Stderr) HealthCheck(TestHost from, bool requireAll = false, int timeoutSeconds = 10, string[]? lost = null) =>
        _hosts.Bash(from, Render.EtcdHealth(Render.EtcdClientUrls(_nodes), requireAll, timeoutSeconds, lost: lost ?? [],
            caFile: Path.Combine(PkiDir(from), "ca.crt"), certFile: Path.Combine(PkiDir(from), "member.crt"), keyFile: Path.Combine(PkiDir(from), "member.key")));

    private static void WaitUntil(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}");
            }
            Thread.Sleep(250);
        }
    }

    [Test]
    public void RenderedCertificatesAndConfigFormATlsCluster()
    {
        var health = Etcdctl(_hosts[0], "endpoint", "health", "--cluster");
        Assert.That(health.ExitCode, Is.Zero, health.Stderr);
        Assert.That(health.Stdout + health.Stderr, Does.Contain("https://10.203.0.2:2379 is healthy").And.Contains("https://10.203.0.4:2379 is healthy"));

        var members = Etcdctl(_hosts[1], "member", "list");
        Assert.That(members.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));
        Assert.That(members.Stdout, Does.Contain("node1, https://10.203.0.2:2380, https://10.203.0.2:2379"));

        var check = HealthCheck(_hosts[2], requireAll: true);
        Assert.That(check.ExitCode, Is.Zero, check.Stderr);
        Assert.That(check.Stdout, Does.Contain("etcd is healthy: 3/3 members"));
    }

    [Test]
    public void APeerMustPresentAMemberCertificate()
    {
        // etcd 3.6, the program's release, reads the rule from the config file (allowed-cn, see
        // Render.EtcdConfig); this machine's etcd may take it as a flag only, so a member of its
        // own on the spare host gets the same rule that way, with the program's certificates.
        var config = new YamlStream();
        config.Load(new StringReader(Render.EtcdConfig(_nodes[0], _nodes, "k8s-dev-etcd")));
        var peerSecurity = (YamlMappingNode)((YamlMappingNode)config.Documents[0].RootNode)["peer-transport-security"];
        Assert.That(((YamlSequenceNode)peerSecurity["allowed-cn"]).Select(n => n.ToString()), Is.EqualTo(new[] { Render.EtcdMemberCommonName }));

        var spare = _hosts[3];
        var node = new NodeAddress("node4", spare.Address);
        var certs = _hosts.Bash(spare, Render.EtcdCerts(node, RealPki.Material.EtcdCaCert, RealPki.Member(node), pkiDir: PkiDir(spare)));
        Assert.That(certs.ExitCode, Is.Zero, certs.Stderr);
        var dir = PkiDir(spare);
        var peerUrl = $"https://{spare.Address}:2380";
        _hosts.Start(spare, "etcd-peer", "etcd", "--name", "node4", "--data-dir", Path.Combine(spare.Dir, "peer-data"),
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", $"node4={peerUrl}",
            "--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
            "--peer-cert-file", Path.Combine(dir, "member.crt"), "--peer-key-file", Path.Combine(dir, "member.key"),
            "--peer-trusted-ca-file", Path.Combine(dir, "ca.crt"), "--peer-client-cert-auth", $"--peer-cert-allowed-cn={Render.EtcdMemberCommonName}");
        _hosts.WaitForPort(spare, spare.Address, 2380);

        // The peer port serves /members to peers only (etcdserver/api/etcdhttp/peer.go).
        (int ExitCode, string Stdout, string Stderr) Members(string cert, string key) => _hosts.Exec(_hosts[1], "curl",
            ["-sS", "--http1.1", "--fail", "--max-time", "5", "--cacert", Path.Combine(PkiDir(_hosts[1]), "ca.crt"), "--cert", cert, "--key", key, $"{peerUrl}/members"]);
        var member = Members(Path.Combine(PkiDir(_hosts[1]), "member.crt"), Path.Combine(PkiDir(_hosts[1]), "member.key"));
        Assert.That(member.ExitCode, Is.Zero, member.Stderr);
        Assert.That(member.Stdout, Does.Contain("\"name\":\"node4\""));

        // The API server's etcd client certificate is signed by the same CA, but names no member.
        var client = Path.Combine(_hosts.Dir, "apiserver-etcd-client");
        File.WriteAllText(client + ".crt", RealPki.Material.ApiServerEtcdClientCert);
        File.WriteAllText(client + ".key", RealPki.Material.ApiServerEtcdClientKey);
        var apiServer = Members(client + ".crt", client + ".key");
        Assert.That(apiServer.ExitCode, Is.Not.Zero, "etcd takes the API server's client certificate for a peer's");
        Assert.That(apiServer.Stdout, Does.Not.Contain("node4"));
    }

    [Test]
    public void EtcdRunsAsItsOwnUserAndOwnsItsDataAndKey()
    {
        var etcd = _hosts.Exec(_hosts[0], "id", ["-u", "etcd"]);
        Assert.That(etcd.ExitCode, Is.Zero, "the etcd user exists");
        var uid = etcd.Stdout.Trim();
        var status = File.ReadAllLines($"/proc/{_members["node1"].Id}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        Assert.That(status.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1), Is.All.EqualTo(uid), "real, effective, saved and file-system uid");

        var owners = _hosts.Exec(_hosts[0], "stat", ["-c", "%U %a %n", Path.Combine(_hosts[0].Dir, "data"), PkiDir(_hosts[0]), Path.Combine(PkiDir(_hosts[0]), "member.key")]);
        Assert.That(owners.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ').Take(2))),
            Is.EqualTo(new[] { "etcd 700", "etcd 700", "etcd 600" }));
    }

    [Test]
    public void QuorumSurvivesOneLossNotTwoAndTheHealthCheckSaysSo()
    {
        TestHosts.Stop(_members["node3"]);
        // Writes go to node1's endpoint: whether a client fails over fast is not what is tested.
        // If node3 led, the others elect a new leader first (about a second; allow for a loaded machine).
        var node1 = Render.EtcdClientUrls(_nodes.Take(1)).Single();
        WaitUntil(() => EtcdctlAt(node1, _hosts[0], "put", "/probe", "one-down").ExitCode == 0, "writes with one member down", seconds: 20);
        var degraded = HealthCheck(_hosts[0]);
        Assert.That(degraded.ExitCode, Is.Zero, degraded.Stderr);
        Assert.That(degraded.Stdout, Does.Contain("etcd has quorum: 2/3 members healthy; not answering: https://10.203.0.4:2379"));
        Assert.That(HealthCheck(_hosts[0], requireAll: true, timeoutSeconds: 0).ExitCode, Is.Not.Zero, "the health gate wants every member");
        // node3 listed in lostNodes: the gate wants every other member, and counts the quorum over all three.
        var passedBy = HealthCheck(_hosts[0], requireAll: true, timeoutSeconds: 0, lost: ["https://10.203.0.4:2379"]);
        Assert.That(passedBy.ExitCode, Is.Zero, passedBy.Stderr);
        Assert.That(passedBy.Stdout, Does.Contain("etcd is healthy but for lostNodes: 2/3 members healthy; not answering: https://10.203.0.4:2379"));
        Assert.That(HealthCheck(_hosts[0], requireAll: true, timeoutSeconds: 0, lost: ["https://10.203.0.3:2379"]).ExitCode, Is.Not.Zero, "a member down that is not listed still fails the gate");

        TestHosts.Stop(_members["node2"]);
        Assert.That(EtcdctlAt(node1, _hosts[0], "put", "/probe", "two-down").ExitCode, Is.Not.Zero, "writes stop without quorum");
        // One pass at a time until node1 has noticed it leads nobody (etcd's check-quorum steps a
        // lone leader down within an election timeout): the event, not the check's own timeout.
        var lost = HealthCheck(_hosts[0], timeoutSeconds: 0);
        WaitUntil(() => (lost = HealthCheck(_hosts[0], timeoutSeconds: 0)).Stderr.Contains("answering without a leader", StringComparison.Ordinal), "node1 without a leader", seconds: 20);
        Assert.That(lost.ExitCode, Is.Not.Zero);
        Assert.That(lost.Stderr, Does.Contain("etcd has lost quorum: 0/3 members healthy, 2 needed; writes fail")
            .And.Contains("not answering: https://10.203.0.3:2379 https://10.203.0.4:2379")
            .And.Contains("answering without a leader: https://10.203.0.2:2379"));
    }

    [Test]
    public void ControlPlaneScriptFindsTheClusterAndLiveApiServersInEtcd()
    {
        // The functions of control-plane.sh that read etcd, against the real cluster, with
        // /etc/kubernetes/pki standing in as this host's PKI folder.
        Repo.RequireTool("jq", "apt-get install jq");
        var script = Render.ControlPlaneScript(Fixtures.Cluster with { EtcdEndpoints = [.. Render.EtcdClientUrls(_nodes)] }, _nodes[0], mayInit: true, schedulable: false, "abcdef.0123456789abcdef", "sha256:00");
        var functions = script[script.IndexOf("etcd_curl() {", StringComparison.Ordinal)..script.IndexOf("# kubeadm's preflight asks", StringComparison.Ordinal)];
        var pki = PkiDir(_hosts[0]);
        var probe = $"""
            set -euo pipefail
            NODE_IP={_nodes[0].PrivateIp}
            ETCD_ENDPOINTS={string.Join(",", Render.EtcdClientUrls(_nodes))}
            PKI={_hosts[0].Dir}/kube-pki
            mkdir -p "$PKI/etcd"
            cp {pki}/ca.crt "$PKI/etcd/ca.crt"; cp {pki}/member.crt "$PKI/apiserver-etcd-client.crt"; cp {pki}/member.key "$PKI/apiserver-etcd-client.key"
            {functions}
            if cluster_exists; then echo exists; else echo absent; fi
            echo "live: $(live_api_servers | tr '\n' ' ')."
            """;

        var empty = _hosts.Bash(_hosts[0], probe);
        Assert.That(empty.ExitCode, Is.Zero, empty.Stderr);
        Assert.That(empty.Stdout, Does.Contain("absent").And.Contains("live: ."));
        Assert.That(Etcdctl(_hosts[0], "put", "/registry/namespaces/kube-system", "x").ExitCode, Is.Zero);
        Assert.That(Etcdctl(_hosts[0], "put", $"/registry/masterleases/{_nodes[0].PrivateIp}", "x").ExitCode, Is.Zero);
        Assert.That(Etcdctl(_hosts[0], "put", $"/registry/masterleases/{_nodes[1].PrivateIp}", "x").ExitCode, Is.Zero);

        var found = _hosts.Bash(_hosts[0], probe);
        Assert.That(found.ExitCode, Is.Zero, found.Stderr);
        Assert.That(found.Stdout, Does.Contain("exists"));
        Assert.That(found.Stdout, Does.Contain($"live: {_nodes[1].PrivateIp} ."), "its own address is left out");
    }

    /// <summary>
    /// A removal changes the membership, so the remaining member snapshots first; one that gives no
    /// snapshot (the tool fails: a stopped member, a full disk) keeps every member. The tool is the
    /// program's etcd-snapshot, whose own failures the delivered-step tests run; here only its exit
    /// status and the order matter, recorded beside the membership it saw.
    /// </summary>
    [Test]
    public void AMemberIsRemovedOnlyAfterASnapshotAndNotWithout()
    {
        var tool = Path.Combine(_hosts[0].Dir, "etcd-snapshot");
        var seen = Path.Combine(_hosts[0].Dir, "snapshot-saw");
        var pki = PkiDir(_hosts[0]);
        File.WriteAllText(tool, $$"""
            #!/usr/bin/env bash
            [ "$1" = before-change ] || exit 2
            ETCDCTL_API=3 {{Repo.Which("etcdctl")}} --endpoints {{Endpoints}} --cacert {{pki}}/ca.crt --cert {{pki}}/member.crt --key {{pki}}/member.key member list > {{seen}}
            exit "${FAIL:-0}"

            """);
        Assert.That(Repo.Run("chmod", ["0755", tool]).ExitCode, Is.Zero);

        var refused = _hosts.Bash(_hosts[0], "export FAIL=1\n" + Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: pki, snapshotTool: tool));
        Assert.That(refused.ExitCode, Is.Not.Zero);
        Assert.That(refused.Stderr, Does.Contain("no snapshot before removing etcd member").And.Contain("it is not removed"));
        Assert.That(Etcdctl(_hosts[0], "member", "list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));

        var removal = _hosts.Bash(_hosts[0], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: pki, snapshotTool: tool));
        Assert.That(removal.Stdout, Does.Contain("removed etcd member"), removal.Stderr);
        Assert.That(File.ReadAllText(seen), Does.Contain(_nodes[2].PrivateIp), "the snapshot was taken while node3 was still a member");
        WaitUntil(() => Etcdctl(_hosts[0], "member", "list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 2, "node3 to be removed");
    }

    /// <summary>
    /// etcd refuses to remove a started member when the members left would lack a quorum of
    /// connected ones (its strict reconfiguration check, on by default; etcdserver/server.go
    /// mayRemoveMember):
    /// the removal fails the step, saying why, and the member stays.
    /// </summary>
    [Test]
    public void ARemovalEtcdRefusesFailsTheStepAndKeepsTheMember()
    {
        TestHosts.Stop(_members["node2"]);
        // etcd counts a peer as connected for 5 s after it was last heard (HealthInterval).
        Thread.Sleep(TimeSpan.FromSeconds(7));

        var removal = _hosts.Bash(_hosts[0], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[0])));

        Assert.That(removal.ExitCode, Is.Not.Zero, removal.Stdout);
        // 3.4 answers "unhealthy cluster", later releases "re-configuration failed due to not enough started members".
        Assert.That(removal.Stderr, Does.Match("etcdserver: (unhealthy cluster|re-configuration failed due to not enough started members)").And.Contain("could not remove etcd member"));
        var node1 = Render.EtcdClientUrls([_nodes[0]]).Single();
        Assert.That(EtcdctlAt(node1, _hosts[0], "member", "list").Stdout, Does.Contain($"{_nodes[2].PrivateIp}:2380"), "node3 is still a member");
    }

    [Test]
    public void AReplacedNodeIsAnnouncedToTheClusterAndRejoinsIt()
    {
        // `pulumi up --replace` on node3: its member is removed first (its delete step) ...
        var removal = _hosts.Bash(_hosts[0], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[0])));
        Assert.That(removal.Stdout, Does.Contain("removed etcd member"), removal.Stderr);
        TestHosts.Stop(_members["node3"]);

        // ... then a new droplet, with a new address, runs the member steps.
        var spare = _hosts[3];
        var replacement = new NodeAddress("node3", spare.Address);
        List<NodeAddress> inventory = [_nodes[0], _nodes[1], replacement];
        var pki = RealPki.Material;
        Assert.That(_hosts.Bash(spare, Render.EtcdCerts(replacement, pki.EtcdCaCert, RealPki.Member(replacement), pkiDir: PkiDir(spare))).ExitCode, Is.Zero);
        var config = Path.Combine(spare.Dir, "etcd.conf.yml");
        var member = Render.EtcdMember(replacement, inventory, "k8s-dev-etcd", pkiDir: PkiDir(spare), dataDir: Path.Combine(spare.Dir, "data"), configFile: config, etcdctl: Repo.Which("etcdctl")!, etcdVersion: RealEtcd.Version);

        var first = _hosts.Bash(spare, member);
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Stdout, Does.Contain("announced node3 to the running etcd cluster"));
        Assert.That(File.ReadAllText(config), Does.Contain("initial-cluster-state: existing"));

        _hosts.StartEtcd(spare, config);
        var endpoints = string.Join(",", Render.EtcdClientUrls(inventory));
        WaitUntil(() => EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout.Contains("started, node3", StringComparison.Ordinal), $"the replacement to join:\n{_hosts.Log(spare, "etcd")}", seconds: 30);
        Assert.That(EtcdctlAt(endpoints, _hosts[0], "endpoint", "health", "--cluster").ExitCode, Is.Zero);
        var members = EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout;
        Assert.That(members, Does.Contain($"node3, https://{spare.Address}:2380").And.Not.Contains(_nodes[2].PrivateIp));

        // A second run finds the member started: no announcement, no restart.
        var second = _hosts.Bash(spare, member);
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.That(second.Stdout, Does.Not.Contain("announced"));
        Assert.That(File.Exists(config + ".restart"), Is.False);
    }

    /// <summary>
    /// node3's droplet made anew at the same address, its departure never run: its old member has
    /// run and this node has no data, so it is removed and a new member added, never rejoined
    /// under the old ID with empty data.
    /// </summary>
    [Test]
    public void AReplacementAtTheSameAddressIsANewMember()
    {
        var oldId = Etcdctl(_hosts[0], "member", "list").Stdout.Split('\n').Single(l => l.Contains(", node3, ", StringComparison.Ordinal)).Split(',')[0];
        TestHosts.Stop(_members["node3"]);
        var host = _hosts[2];
        Directory.Delete(Path.Combine(host.Dir, "data"), recursive: true);
        var config = Path.Combine(host.Dir, "etcd.conf.yml");
        var member = Render.EtcdMember(_nodes[2], _nodes, "k8s-dev-etcd", pkiDir: PkiDir(host), dataDir: Path.Combine(host.Dir, "data"), configFile: config, etcdctl: Repo.Which("etcdctl")!, etcdVersion: RealEtcd.Version);

        var run = _hosts.Bash(host, member);

        Assert.That(run.ExitCode, Is.Zero, run.Stderr);
        Assert.That(run.Stdout, Does.Contain($"removed etcd member {oldId} (node3's old member)").And.Contain("announced node3 to the running etcd cluster"));
        _hosts.StartEtcd(host, config, dataDir: Path.Combine(host.Dir, "data"));
        WaitUntil(() => Etcdctl(_hosts[0], "member", "list").Stdout.Contains($"started, node3, https://{_nodes[2].PrivateIp}:2380", StringComparison.Ordinal), $"the new member to join:\n{_hosts.Log(host, "etcd")}", seconds: 30);
        var newId = Etcdctl(_hosts[0], "member", "list").Stdout.Split('\n').Single(l => l.Contains(", node3, ", StringComparison.Ordinal)).Split(',')[0];
        Assert.That(newId, Is.Not.EqualTo(oldId));
        WaitUntil(() => Etcdctl(_hosts[0], "endpoint", "health", "--cluster").ExitCode == 0, "every member healthy");
    }

    [Test]
    public void ADeadNodesReplacementRemovesItsOldMemberBeforeJoining()
    {
        // node3 died: its delete step never ran, so its member is still listed, and counts.
        TestHosts.Stop(_members["node3"]);
        var spare = _hosts[3];
        var replacement = new NodeAddress("node3", spare.Address);
        List<NodeAddress> inventory = [_nodes[0], _nodes[1], replacement];
        var pki = RealPki.Material;
        Assert.That(_hosts.Bash(spare, Render.EtcdCerts(replacement, pki.EtcdCaCert, RealPki.Member(replacement), pkiDir: PkiDir(spare))).ExitCode, Is.Zero);
        var config = Path.Combine(spare.Dir, "etcd.conf.yml");
        var member = Render.EtcdMember(replacement, inventory, "k8s-dev-etcd", pkiDir: PkiDir(spare), dataDir: Path.Combine(spare.Dir, "data"), configFile: config, etcdctl: Repo.Which("etcdctl")!, etcdVersion: RealEtcd.Version);

        var run = _hosts.Bash(spare, member);

        Assert.That(run.ExitCode, Is.Zero, run.Stderr);
        Assert.That(run.Stdout, Does.Match(@"removed etcd member [0-9a-f]+ \(node3's old member\)"));
        Assert.That(run.Stdout, Does.Contain("announced node3 to the running etcd cluster"));
        var endpoints = string.Join(",", Render.EtcdClientUrls(inventory));
        var listed = EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout;
        Assert.That(listed, Does.Not.Contain(_nodes[2].PrivateIp + ":2380"), "the dead member is gone");
        Assert.That(listed.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));

        _hosts.StartEtcd(spare, config);
        WaitUntil(() => EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout.Contains($"started, node3, https://{spare.Address}:2380", StringComparison.Ordinal), $"the replacement to join:\n{_hosts.Log(spare, "etcd")}", seconds: 30);
        Assert.That(EtcdctlAt(endpoints, _hosts[0], "endpoint", "health", "--cluster").ExitCode, Is.Zero);
    }

    [Test]
    public void ANodeSwappedInOneUpdateJoinsBeforeTheOldOneLeaves()
    {
        // The inventory swaps node3 for node4: Pulumi creates node4 first and deletes node3 at the
        // end of the update, so node4 joins a cluster of four that its inventory calls three.
        var spare = _hosts[3];
        var node4 = new NodeAddress("node4", spare.Address);
        List<NodeAddress> inventory = [_nodes[0], _nodes[1], node4];
        var pki = RealPki.Material;
        Assert.That(_hosts.Bash(spare, Render.EtcdCerts(node4, pki.EtcdCaCert, RealPki.Member(node4), pkiDir: PkiDir(spare))).ExitCode, Is.Zero);
        var config = Path.Combine(spare.Dir, "etcd.conf.yml");

        var join = _hosts.Bash(spare, Render.EtcdMember(node4, inventory, "k8s-dev-etcd", pkiDir: PkiDir(spare), dataDir: Path.Combine(spare.Dir, "data"), configFile: config, etcdctl: Repo.Which("etcdctl")!, etcdVersion: RealEtcd.Version));

        Assert.That(join.ExitCode, Is.Zero, join.Stderr);
        var initial = File.ReadAllLines(config).Single(l => l.StartsWith("initial-cluster: ", StringComparison.Ordinal))["initial-cluster: ".Length..];
        Assert.That(initial.Split(','), Is.EquivalentTo(new[] { "node1", "node2", "node3" }.Select((n, i) => $"{n}=https://{_nodes[i].PrivateIp}:2380").Append($"node4=https://{spare.Address}:2380")),
            "the members as they are, not as the inventory will be");
        _hosts.StartEtcd(spare, config);
        var all = string.Join(",", Render.EtcdClientUrls([.. _nodes, node4]));
        WaitUntil(() => EtcdctlAt(all, _hosts[0], "member", "list").Stdout.Contains($"started, node4, https://{spare.Address}:2380", StringComparison.Ordinal), $"node4 to join:\n{_hosts.Log(spare, "etcd")}", seconds: 30);

        var leave = _hosts.Bash(_hosts[0], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[0])));
        Assert.That(leave.Stdout, Does.Contain("removed etcd member"), leave.Stderr);
        var endpoints = string.Join(",", Render.EtcdClientUrls(inventory));
        WaitUntil(() => EtcdctlAt(endpoints, _hosts[0], "endpoint", "health", "--cluster").ExitCode == 0, "the three members left to be healthy");
        Assert.That(EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));
    }

    [Test]
    public void AMemberAnnouncedOnAFailedRunJoinsAsExistingOnTheNext()
    {
        var removal = _hosts.Bash(_hosts[0], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[0])));
        Assert.That(removal.ExitCode, Is.Zero, removal.Stderr);
        TestHosts.Stop(_members["node3"]);
        var spare = _hosts[3];
        var replacement = new NodeAddress("node3", spare.Address);
        List<NodeAddress> inventory = [_nodes[0], _nodes[1], replacement];
        var pki = RealPki.Material;
        Assert.That(_hosts.Bash(spare, Render.EtcdCerts(replacement, pki.EtcdCaCert, RealPki.Member(replacement), pkiDir: PkiDir(spare))).ExitCode, Is.Zero);
        // The first run announced the member, then the step failed before etcd started.
        var endpoints = string.Join(",", Render.EtcdClientUrls(inventory));
        // Right after a removal etcd may refuse a reconfiguration for a moment ("unhealthy cluster").
        WaitUntil(() => EtcdctlAt(endpoints, _hosts[0], "member", "add", "node3", "--peer-urls", $"https://{spare.Address}:2380").ExitCode == 0, "etcd to accept the new member");
        var config = Path.Combine(spare.Dir, "etcd.conf.yml");

        var rerun = _hosts.Bash(spare, Render.EtcdMember(replacement, inventory, "k8s-dev-etcd", pkiDir: PkiDir(spare), dataDir: Path.Combine(spare.Dir, "data"), configFile: config, etcdctl: Repo.Which("etcdctl")!, etcdVersion: RealEtcd.Version));

        Assert.That(rerun.ExitCode, Is.Zero, rerun.Stderr);
        Assert.That(rerun.Stdout, Does.Not.Contain("announced"), "announced once only");
        Assert.That(File.ReadAllText(config), Does.Contain("initial-cluster-state: existing"));
        _hosts.StartEtcd(spare, config);
        WaitUntil(() => EtcdctlAt(endpoints, _hosts[0], "member", "list").Stdout.Contains($"started, node3, https://{spare.Address}:2380", StringComparison.Ordinal), $"the member to join:\n{_hosts.Log(spare, "etcd")}", seconds: 30);
    }

    [Test]
    public void RenderedMemberRemovalRunsFromAnotherMemberAndToleratesASecondRun()
    {
        // node3's departure runs on node1: node3 itself may be dead.
        var remove = Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[0]));

        var first = _hosts.Bash(_hosts[0], remove);
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Stdout, Does.Contain("removed etcd member"), first.Stderr);
        var members = Etcdctl(_hosts[0], "member", "list");
        Assert.That(members.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        Assert.That(members.Stdout, Does.Not.Contain("10.203.0.4"));
        Assert.That(_members["node3"].WaitForExit(15_000), Is.True, "a removed member shuts itself down");

        var second = _hosts.Bash(_hosts[0], remove);
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.That(second.Stdout, Does.Contain("not in the cluster"));
        // The two members left keep the quorum.
        var left = string.Join(",", Render.EtcdClientUrls(_nodes.Take(2)));
        WaitUntil(() => EtcdctlAt(left, _hosts[0], "put", "/probe", "after-removal").ExitCode == 0, "writes after the removal", seconds: 20);
    }

    [Test]
    public void ADeadMemberIsRemovedFromASurvivor()
    {
        TestHosts.Stop(_members["node3"]);

        var removal = _hosts.Bash(_hosts[1], Render.EtcdMemberRemove(_nodes[2], _nodes, pkiDir: PkiDir(_hosts[1])));

        Assert.That(removal.ExitCode, Is.Zero, removal.Stderr);
        Assert.That(removal.Stdout, Does.Contain("removed etcd member"), removal.Stderr);
        var members = Etcdctl(_hosts[0], "member", "list").Stdout;
        Assert.That(members, Does.Not.Contain(_nodes[2].PrivateIp + ":2380"));
        Assert.That(HealthCheck(_hosts[0], requireAll: false).ExitCode, Is.Zero);
    }
}
