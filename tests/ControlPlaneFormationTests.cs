using System.Diagnostics;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// The rendered control-plane steps run on two test hosts against a kubeadm stand-in that behaves
/// like kubeadm (token discovery hands back cluster-info's server, a control-plane join reads
/// kubeadm-config through it first, preflight asks every etcd endpoint for /version, init refuses
/// non-empty manifests), a fake API server that keeps its objects and leases in a real etcd on a
/// third host, real nginx as each node's API proxy, and the real kubectl, curl and openssl.
/// </summary>
[NonParallelizable]
public class ControlPlaneFormationTests
{
    private NodeHosts _hosts = null!;
    private TestHost _cp1 = null!;
    private TestHost _cp2 = null!;
    private TestHost _etcd = null!;
    private NodeAddress _node1 = null!;
    private NodeAddress _node2 = null!;

    private static ClusterPkiMaterial Pki => RealPki.Material;

    [SetUp]
    public void StartEtcd()
    {
        Repo.RequireTool("etcd", "apt-get install etcd-server");
        _hosts = NodeHosts.Create(3);
        (_cp1, _cp2, _etcd) = (_hosts[0], _hosts[1], _hosts[2]);
        (_node1, _node2) = (new NodeAddress("node1", _cp1.Address), new NodeAddress("node2", _cp2.Address));

        var member = new NodeAddress("etcd1", _etcd.Address);
        var pkiDir = Path.Combine(_etcd.Dir, "pki");
        var certs = _hosts.Hosts.Bash(_etcd, Render.EtcdCerts(member, Pki.EtcdCaCert, RealPki.Member(member), pkiDir: pkiDir));
        Assert.That(certs.ExitCode, Is.Zero, certs.Stderr);
        var config = Path.Combine(_etcd.Dir, "etcd.conf.yml");
        File.WriteAllText(config, Render.EtcdConfig(member, [member], "k8s-test-etcd", pkiDir: pkiDir, dataDir: Path.Combine(_etcd.Dir, "data"), etcdVersion: RealEtcd.Version));
        _hosts.Hosts.StartEtcd(_etcd, config, dataDir: Path.Combine(_etcd.Dir, "data"));
        _hosts.Hosts.WaitForPort(_etcd, _etcd.Address, 2379);
    }

    [TearDown]
    public void Stop() => _hosts?.Dispose();

    private string EtcdEndpoint => $"https://{_etcd.Address}:2379";

    private KubeadmClusterInput Cluster(params string[] etcdEndpoints) => new(
        "k8s-test", Fixtures.K8sVersion, Fixtures.Cluster.PodCidr, Fixtures.Cluster.ServiceCidr,
        etcdEndpoints.Length > 0 ? etcdEndpoints : [EtcdEndpoint], ["127.0.0.1", "localhost"]);

    /// <summary>The control-plane node's steps as the program renders them: its proxy, then ControlPlane's step.</summary>
    /// <summary>A join token for <paramref name="node"/>, minted on a live control-plane host as the program's token step does.</summary>
    private string Token(TestHost on, NodeAddress node)
    {
        // The minting host's proxy may still hold its own API server as failed from its join
        // (nginx fail_timeout, 10 s) while another API server has just gone: wait until it answers.
        var proxy = _hosts.Run(on, "for _ in $(seq 1 60); do curl -sf --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6444/livez >/dev/null && exit 0; sleep 0.5; done; exit 1");
        Assert.That(proxy.Exit, Is.Zero, proxy.Output);
        var (exit, output) = _hosts.Run(on, Render.JoinTokenScript(node.Name));
        Assert.That(exit, Is.Zero, output);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last().Trim();
    }

    private string Steps(NodeAddress node, bool mayInit, KubeadmClusterInput? cluster = null, int joinWaitSeconds = 30, bool etcdHealth = true, string token = "",
        bool peersLost = false, int leaseLapseSeconds = Render.LeaseLapseSeconds)
    {
        cluster ??= Cluster();
        var admin = Render.Kubeconfig("k8s-test", $"https://{Ports.ApiProxyListen}", Pki.CaCert, Pki.AdminCert, Pki.AdminKey);
        List<(string, string)> scripts =
        [
            ("api-proxy", Render.ApiProxy(node.Name, [_node1, _node2])),
            ("control-plane-pki", Render.ControlPlanePki(Pki, admin)),
            ("apiserver-config", Render.ApiServerConfig(Fixtures.Hardening, Fixtures.EncryptionKeys)),
        ];
        if (etcdHealth)
        {
            scripts.Add(("etcd-health", Render.EtcdHealth(cluster.EtcdEndpoints, requireAll: false, timeoutSeconds: 30)));
        }
        scripts.Add(("control-plane", Render.ControlPlaneScript(cluster, node, mayInit, schedulable: false, token, Pki.CaCertHash, joinWaitSeconds, etcdWaitSeconds: 4,
            peersLost: peersLost, leaseLapseSeconds: leaseLapseSeconds)));
        return Render.StepScript([.. scripts]);
    }

    private (int Exit, string Output) Run(TestHost host, string steps)
    {
        var result = _hosts.Run(host, steps, timeoutSeconds: 180);
        TestContext.Out.WriteLine($"--- {host.Name}\n{result.Output}\n--- stand-ins\n{_hosts.Log(host)}");
        return result;
    }

    private string KubeletServer(TestHost host) =>
        File.ReadAllLines(_hosts.NodeFile(host, "/etc/kubernetes/kubelet.conf")).Single(l => l.TrimStart().StartsWith("server:", StringComparison.Ordinal)).Trim();

    [Test]
    public void TheSecondControlPlaneNodeJoinsThroughItsOwnProxyAndNeedsNoPeerAfterwards()
    {
        var init = Run(_cp1, Steps(_node1, mayInit: true));
        Assert.That(init.Exit, Is.Zero, init.Output);
        Assert.That(init.Output, Does.Contain("creating the cluster on node1"));
        // kubeadm's system:masters credential, which RBAC cannot restrict, is not left behind.
        Assert.That(_hosts.Log(_cp1), Does.Contain("kubeadm init"));
        Assert.That(File.Exists(_hosts.NodeFile(_cp1, "/etc/kubernetes/super-admin.conf")), Is.False, "super-admin.conf is removed after init");
        Assert.That(File.Exists(_hosts.NodeFile(_cp1, "/etc/kubernetes/admin.conf")), Is.True);

        var join = Run(_cp2, Steps(_node2, mayInit: false, token: Token(_cp1, _node2)));

        Assert.That(join.Exit, Is.Zero, join.Output);
        Assert.That(join.Output, Does.Contain("joining node2 as a control-plane node through 127.0.0.1:6444"));
        Assert.That(_hosts.Log(_cp2), Does.Contain("[discovery] cluster-info names https://127.0.0.1:6444"));
        Assert.That(_hosts.Log(_cp2), Does.Not.Contain("kubeadm init"));
        // After the join the node's kubelet talks to its own proxy, and so to any API server.
        Assert.That(KubeletServer(_cp2), Is.EqualTo("server: https://127.0.0.1:6444"));
        Assert.That(KubeletServer(_cp1), Is.EqualTo("server: https://127.0.0.1:6444"));

        // node1 goes: node2 still reaches the API through its proxy, which moves to node2's own API
        // server. (nginx may still hold node2's upstream as failed for up to fail_timeout, 10 s,
        // from the join, when it did not answer yet: the loop waits for that, not a fixed time.)
        _hosts.StopAll(_cp1);
        var alone = _hosts.Run(_cp2, """
            for _ in $(seq 1 60); do
              curl -sf --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6444/api/v1/nodes/node2 && exit 0
              sleep 0.5
            done
            exit 1
            """);
        Assert.That(alone.Exit, Is.Zero, alone.Output);
        Assert.That(alone.Output, Does.Contain("\"name\": \"node2\""));
    }

    [Test]
    public void RunningTheStepsAgainChangesNothing()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        Assert.That(Run(_cp2, Steps(_node2, mayInit: false, token: Token(_cp1, _node2))).Exit, Is.Zero);
        var calls = _hosts.Log(_cp2).Split('\n').Count(l => l.StartsWith("kubeadm join", StringComparison.Ordinal));

        var again = Run(_cp2, Steps(_node2, mayInit: false, token: Token(_cp1, _node2)));

        Assert.That(again.Exit, Is.Zero, again.Output);
        Assert.That(again.Output, Does.Contain("node2 is already a control-plane node"));
        Assert.That(_hosts.Log(_cp2).Split('\n').Count(l => l.StartsWith("kubeadm join", StringComparison.Ordinal)), Is.EqualTo(calls));
    }

    [Test]
    public void TheFirstNodeReplacedWhileTheSecondLivesJoinsInsteadOfCreatingAClusterAgain()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        Assert.That(Run(_cp2, Steps(_node2, mayInit: false, token: Token(_cp1, _node2))).Exit, Is.Zero);

        _hosts.Reset(_cp1);
        var replaced = Run(_cp1, Steps(_node1, mayInit: true, token: Token(_cp2, _node1)));

        Assert.That(replaced.Exit, Is.Zero, replaced.Output);
        Assert.That(replaced.Output, Does.Contain("joining node1 as a control-plane node"));
        Assert.That(_hosts.Log(_cp1), Does.Contain("kubeadm join").And.Not.Contain("kubeadm init"));
    }

    [Test]
    public void NoSecondInitWhileAnApiServerHoldsALeaseButDoesNotAnswer()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        // An API server that is registered (its lease lives) but does not answer: a network blip.
        HoldLease(TestHosts.Unreachable, seconds: 120);
        _hosts.Reset(_cp1);

        var stopwatch = Stopwatch.StartNew();
        var again = Run(_cp1, Steps(_node1, mayInit: true, joinWaitSeconds: 6));

        Assert.That(again.Exit, Is.Not.Zero, again.Output);
        Assert.That(again.Output, Does.Contain("hold leases in etcd").And.Contain(TestHosts.Unreachable));
        Assert.That(_hosts.Log(_cp1), Does.Not.Contain("kubeadm init").And.Not.Contain("kubeadm join"));
        Assert.That(stopwatch.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(6)), "it waited for the stated time first");
    }

    [Test]
    public void RestoresTheControlPlaneOnPurposeWhenNoApiServerHasBeenLiveForTheStatedTime()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        _hosts.Reset(_cp1);

        var restored = Run(_cp1, Steps(_node1, mayInit: true, joinWaitSeconds: 4));

        Assert.That(restored.Exit, Is.Zero, restored.Output);
        Assert.That(restored.Output, Does.Contain("no API server has been live for 4s: restoring the control plane on node1"));
        Assert.That(_hosts.Log(_cp1), Does.Contain("kubeadm init"));
        // The restored control plane serves the cluster's existing objects (kept in etcd).
        var nodes = _hosts.Run(_cp1, "curl -sf --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6444/api/v1/nodes");
        Assert.That(nodes.Output, Does.Contain("node1"));
    }

    /// <summary>
    /// lostNodes lists every control-plane node: a lost API server's lease, still in etcd, is
    /// waited out (not the long wait for a live peer, which would outlast the run's 180 s) and
    /// the control plane is restored over the existing objects.
    /// </summary>
    [Test]
    public void WithEveryControlPlaneNodeLostTheControlPlaneIsRestoredOnceTheOldLeasesLapse()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        _hosts.Reset(_cp1);
        HoldLease(TestHosts.Unreachable, seconds: 10);

        var restored = Run(_cp1, Steps(_node1, mayInit: true, joinWaitSeconds: 600, peersLost: true));

        Assert.That(restored.Exit, Is.Zero, restored.Output);
        Assert.That(restored.Output, Does.Contain("lostNodes lists every control-plane node and no API server holds a lease: restoring the control plane on node1"));
        var nodes = _hosts.Run(_cp1, "curl -sf --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:6444/api/v1/nodes");
        Assert.That(nodes.Output, Does.Contain("node1"), "the restored control plane serves the objects etcd kept");
    }

    /// <summary>A lease renewed past the lapse is a live API server: listing it as lost refuses the restore.</summary>
    [Test]
    public void WithEveryControlPlaneNodeListedAsLostALeaseStillHeldRefusesTheRestore()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);
        _hosts.Reset(_cp1);
        HoldLease(TestHosts.Unreachable, seconds: 120);

        var refused = Run(_cp1, Steps(_node1, mayInit: true, peersLost: true, leaseLapseSeconds: 6));

        Assert.That(refused.Exit, Is.Not.Zero, refused.Output);
        Assert.That(refused.Output, Does.Contain("lostNodes lists every control-plane node, but API servers still renew leases in etcd after 6s (" + TestHosts.Unreachable));
        Assert.That(_hosts.Log(_cp1), Does.Not.Contain("kubeadm init").And.Not.Contain("kubeadm join"));
    }

    [Test]
    public void AJoinWaitsForTheFirstNodeRatherThanCreatingASecondCluster()
    {
        var early = Run(_cp2, Steps(_node2, mayInit: false));

        Assert.That(early.Exit, Is.Not.Zero);
        Assert.That(early.Output, Does.Contain("etcd holds no cluster yet, and node2 does not create it"));
        Assert.That(_hosts.Log(_cp2), Does.Not.Contain("kubeadm"));
    }

    [Test]
    public void KubeadmGoesOnWithoutAnEtcdMemberThatStaysDownAfterSayingSo()
    {
        var deadMember = $"https://{TestHosts.Unreachable}:2379";
        var cluster = Cluster(EtcdEndpoint, deadMember);

        var init = Run(_cp1, Steps(_node1, mayInit: true, cluster, etcdHealth: false));

        Assert.That(init.Exit, Is.Zero, init.Output);
        Assert.That(init.Output, Does.Contain($"etcd {deadMember} did not answer /version"));
        Assert.That(_hosts.Log(_cp1), Does.Contain("kubeadm init --config /etc/kubernetes/kubeadm/init.yaml --skip-token-print --ignore-preflight-errors=ExternalEtcdVersion"));
    }

    [Test]
    public void KubeadmIsNotToldToSkipAnythingWhenEveryEtcdMemberAnswers()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);

        Assert.That(_hosts.Log(_cp1), Does.Contain("kubeadm init --config /etc/kubernetes/kubeadm/init.yaml --skip-token-print\n"));
    }

    // The stand-in's own behaviours, each as kubeadm's source has it: a stand-in that let these
    // through would let the bring-up's defects through too.

    [Test]
    public void TheStandInJoinFailsWhereClusterInfoNamesAnAddressNothingAnswersOnTheJoiningNode()
    {
        // kubeadm discovery returns cluster-info's server: with 127.0.0.1:6443 there (the API
        // server's own port), a joining control-plane node, which has no API server yet, cannot
        // read kubeadm-config. This was the program's bring-up before the local-proxy endpoint.
        var steps = Steps(_node1, mayInit: true).Replace("controlPlaneEndpoint: 127.0.0.1:6444", "controlPlaneEndpoint: 127.0.0.1:6443", StringComparison.Ordinal);
        Assert.That(Run(_cp1, steps).Exit, Is.Zero);

        var join = Run(_cp2, Steps(_node2, mayInit: false, token: Token(_cp1, _node2)));

        Assert.That(join.Exit, Is.Not.Zero);
        Assert.That(join.Output, Does.Contain("unable to fetch the kubeadm-config ConfigMap"));
        Assert.That(_hosts.Log(_cp2), Does.Contain("[discovery] cluster-info names https://127.0.0.1:6443"));
    }

    [Test]
    public void TheStandInInitRefusesManifestsLeftOnTheNode()
    {
        // The script's own guards (already a control-plane node; an interrupted join's manifests
        // cleared) are switched off to reach kubeadm's preflight.
        var steps = Steps(_node1, mayInit: true)
            .Replace("kubelet.conf ] && [ -f /etc/kubernetes/manifests/kube-apiserver.yaml", "kubelet.conf ] && [ -f /nonexistent", StringComparison.Ordinal)
            .Replace("\n  clear_interrupted_join control-plane\n", "\n  :\n", StringComparison.Ordinal);
        var init = Run(_cp1, "mkdir -p /etc/kubernetes/manifests && touch /etc/kubernetes/manifests/kube-apiserver.yaml\n" + steps);

        Assert.That(init.Exit, Is.Not.Zero);
        Assert.That(init.Output, Does.Contain("[ERROR DirAvailable--etc-kubernetes-manifests]"));
    }

    [Test]
    public void TheStandInPreflightRefusesAnEtcdEndpointThatDoesNotAnswer()
    {
        Assert.That(Run(_cp1, Steps(_node1, mayInit: true)).Exit, Is.Zero);

        // kubeadm init with a dead endpoint listed and nothing ignored.
        var config = Render.KubeadmInitConfig(Cluster(EtcdEndpoint, $"https://{TestHosts.Unreachable}:2379"), _node2, schedulable: false);
        var init = _hosts.Run(_cp2, $"mkdir -p /etc/kubernetes/kubeadm && cat > /etc/kubernetes/kubeadm/x.yaml <<'Y'\n{config}Y\n{Render.ControlPlanePki(Pki, "apiVersion: v1")}\nkubeadm init --config /etc/kubernetes/kubeadm/x.yaml");

        Assert.That(init.Exit, Is.Not.Zero);
        Assert.That(init.Output, Does.Contain("[ERROR ExternalEtcdVersion]"));
    }

    private void HoldLease(string address, int seconds)
    {
        var pki = Path.Combine(_etcd.Dir, "pki");
        var script = $$"""
            set -e
            e() { ETCDCTL_API=3 etcdctl --endpoints {{EtcdEndpoint}} --cacert {{pki}}/ca.crt --cert {{pki}}/member.crt --key {{pki}}/member.key "$@"; }
            id=$(e lease grant {{seconds}} | awk '{print $2}')
            e put /registry/masterleases/{{address}} x --lease="$id"
            """;
        var result = _hosts.Hosts.Bash(_etcd, script);
        Assert.That(result.ExitCode, Is.Zero, result.Stderr);
    }
}
