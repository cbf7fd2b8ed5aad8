using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;
using static DoK8sHa.Tests.Support.Fixtures;

namespace DoK8sHa.Tests;

/// <summary>
/// Golden files of every rendered script and config, shellcheck on every script, and a YAML
/// parse of every YAML file. Regenerate goldens with UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public class RenderedFileTests
{
    private static readonly Dictionary<string, Func<string>> Cases = new()
    {
        ["node-bootstrap.sh"] = Render.NodeBootstrap,
        ["node-user-data.yaml"] = () => Render.NodeUserData(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n(the node's key, a Pulumi secret)\n-----END OPENSSH PRIVATE KEY-----\n",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGolden\n"),
        ["releases.sh"] = () => Render.Releases(ReleaseTable.For(K8sVersion)!, controlPlane: true),
        ["pull-images.sh"] = () => Render.PullImages(Render.CalicoNodeImages("v3.30.6")),
        ["releases-start.sh"] = () => Render.ReleasesStart(ReleaseTable.For(K8sVersion)!, controlPlane: false, Render.CalicoNodeImages("v3.30.6")),
        ["containerd-config.toml"] = () => Render.ContainerdConfig("registry.k8s.io/pause:3.10.1"),
        ["wait-for-bootstrap.sh"] = () => Render.WaitForBootstrap(),
        ["etcd-certs.sh"] = () => Render.EtcdCerts(Node1, FakePki.EtcdCaCert, FakeMember),
        ["cert-expiry.sh"] = () => Render.CertExpiry(30),
        ["etcd.conf.yml"] = () => Render.EtcdConfig(Node1, EtcdMembers, "k8s-dev-etcd"),
        ["etcd-install.sh"] = () => Render.EtcdInstall("3.6.5", EtcdSha256),
        ["etcd-member.sh"] = () => Render.EtcdMember(Node1, EtcdMembers, "k8s-dev-etcd"),
        ["etcd-service.sh"] = () => Render.EtcdService("10.240.0.2"),
        ["etcd-member-remove.sh"] = () => Render.EtcdMemberRemove(Node3, EtcdMembers),
        ["etcd-snapshot.sh"] = () => Render.EtcdSnapshot("node1", keep: 8),
        ["etcd-snapshots.sh"] = () => Render.EtcdSnapshots("node1", FakePki.EtcdCaCert, FakeMember, everyHours: 6, keep: 8, upload: null),
        ["etcd-snapshots.offsite.sh"] = () => Render.EtcdSnapshots("node1", FakePki.EtcdCaCert, FakeMember, everyHours: 6, keep: 8,
            upload: new SnapshotUpload("https://lon1.digitaloceanspaces.com", "lon1", "k8s-dev-snapshots", "DO00GOLDENACCESSKEY", "golden/secret+key")),
        ["etcd-snapshot-fetch.sh"] = () => Render.EtcdSnapshotFetch("node1", "etcd/node1-20261206T120000Z-scheduled.db",
            new SnapshotUpload("https://lon1.digitaloceanspaces.com", "lon1", "k8s-dev-snapshots", "DO00GOLDENACCESSKEY", "golden/secret+key")),
        ["etcd-member.restore.sh"] = () => Render.EtcdMember(Node1, EtcdMembers, "k8s-dev-etcd", restoreSnapshot: "/root/restore.db"),
        ["etcd-snapshot-age.sh"] = () => Render.EtcdSnapshotAge(Render.EtcdClientUrls(EtcdMembers), everyHours: 6),
        ["etcd-before-change.sh"] = () => Render.EtcdBeforeChange("node1"),
        ["kubeadm-certs.sh"] = () => Render.KubeadmCerts("node1", "2027-12-06T12:00:00Z"),
        ["etcd-health.sh"] = () => Render.EtcdHealth(Render.EtcdClientUrls(EtcdMembers), requireAll: false, timeoutSeconds: 300),
        ["kubeadm-init.yaml"] = () => Render.KubeadmInitConfig(Cluster, Node1, schedulable: false),
        ["kubeadm-init.schedulable.yaml"] = () => Render.KubeadmInitConfig(Cluster, Node2, schedulable: true),
        ["kubeadm-join.worker.yaml"] = () => Render.KubeadmJoinConfig(Node3, Ports.ApiProxyListen, JoinToken, FakePki.CaCertHash, controlPlane: false, schedulable: true),
        ["kubeadm-join.control-plane.yaml"] = () => Render.KubeadmJoinConfig(Node2, Ports.ApiProxyListen, JoinToken, FakePki.CaCertHash, controlPlane: true, schedulable: true),
        ["control-plane-pki.sh"] = () => Render.ControlPlanePki(FakePki, LocalKubeconfig()),
        ["apiserver-config.sh"] = () => Render.ApiServerConfig(Hardening, EncryptionKeys),
        ["control-plane.init.sh"] = () => Render.ControlPlaneScript(Cluster, Node1, mayInit: true, schedulable: false, "", FakePki.CaCertHash),
        ["control-plane.join.sh"] = () => Render.ControlPlaneScript(Cluster, Node2, mayInit: false, schedulable: true, JoinToken, FakePki.CaCertHash),
        ["join-token.sh"] = () => Render.JoinTokenScript("node3"),
        ["join-token-delete.sh"] = () => Render.JoinTokenDelete("node3", "abcdef"),
        ["apiserver-etcd-endpoints.sh"] = () => Render.ApiServerEtcdEndpointsScript(Node1, Render.EtcdClientUrls(EtcdMembers), Render.ApiServerCertSans(["198.51.100.10"])),
        ["worker-join.sh"] = () => Render.WorkerJoin(Node3, JoinToken, FakePki.CaCertHash, "412345678"),
        ["stale-node.sh"] = () => Render.StaleNode("node3", "412345678"),
        ["api-proxy.nginx.conf"] = () => Render.ApiProxyConfig("node3", ControlPlane.Select(n => $"{n.PrivateIp}:6443")),
        ["api-proxy.sh"] = () => Render.ApiProxy("node3", ControlPlane),
        ["metadata-guard.nft"] = Render.MetadataGuardRules,
        ["host-key.sh"] = () => Render.HostKey(makeHere: true),
        ["metadata-guard.sh"] = Render.MetadataGuard,
        ["node-leave.sh"] = () => Render.NodeLeave("node3"),
        ["kubeconfig.yaml"] = LocalKubeconfig,
        ["cluster-health.sh"] = () => Render.ClusterHealth(["node1", "node2", "node3"], timeoutSeconds: 900, dnsAutoscaler: true, nodeLocalDns: true, lost: []),
        ["dns-autoscaler.yaml"] = () => Render.DnsAutoscaler("1.10.3", kubernetesNodes: 3),
        ["wait-for-api.sh"] = () => Render.WaitForApi("https://127.0.0.1:6443", timeoutSeconds: 600),
        ["nodelocaldns.yaml"] = () => Render.NodeLocalDns("1.25.0", "10.233.0.10"),
        ["kubelet-serving.sh"] = () => Render.KubeletServing(Node2, Fixtures.FakeKubeletServing),
        ["kubelet-serving.conf"] = () => Render.KubeletServingDropIn(),
        ["node-upgrade.first.sh"] = () => Render.NodeUpgrade("node1", ReleaseTable.For(K8sVersion)!, first: true, "/etc/kubernetes/admin.conf"),
        ["node-upgrade.worker.sh"] = () => Render.NodeUpgrade("node3", ReleaseTable.For(K8sVersion)!, first: false, kubeconfigFile: null),
        ["worker-drain.drain.sh"] = () => Render.WorkerDrain("node3", K8sVersion, drain: true),
        ["worker-drain.uncordon.sh"] = () => Render.WorkerDrain("node3", K8sVersion, drain: false),
        ["remote-step.sh"] = () => Render.StepScript(("wait-for-bootstrap", Render.WaitForBootstrap()), ("etcd-health", Render.EtcdHealth(["https://10.240.0.2:2379"], true, 5))),
        ["remote-step.secret.sh"] = () => Render.SecretStepScript(("join-token", Render.JoinTokenScript("node3"))),
    };

    // Templates that are rendered only as part of another golden.
    private static readonly Dictionary<string, string> PartOf = new()
    {
        ["kubeadm-cluster.yaml"] = "kubeadm-init.yaml",
        ["remote-step-run.fragment"] = "remote-step.sh",
        ["etcd-member-change.fragment"] = "etcd-member-remove.sh",
        ["stale-node.fragment"] = "control-plane.join.sh",
        ["wait-until-answers.fragment"] = "worker-join.sh",
        ["interrupted-join.fragment"] = "worker-join.sh",
        ["retry.fragment"] = "worker-drain.drain.sh",
        ["drain-node.fragment"] = "worker-drain.drain.sh",
        ["etcd-user.fragment"] = "etcd-certs.sh",
        ["credential-check.fragment"] = "etcd-certs.sh",
        ["etcd-snapshot.service"] = "etcd-snapshots.sh",
        ["snapshot-checksum.fragment"] = "etcd-snapshot.sh",
        ["etcd-snapshot.timer"] = "etcd-snapshots.sh",
        ["audit-policy.yaml"] = "apiserver-config.sh",
        ["pod-security.yaml"] = "apiserver-config.sh",
        ["anonymous-auth.yaml"] = "apiserver-config.sh",
        ["encryption-config.yaml"] = "apiserver-config.sh",
        ["sshd-steps.conf"] = "node-user-data.yaml",
        ["release-fetch.fragment"] = "releases.sh",
        ["release-install.fragment"] = "releases.sh",
        ["containerd.service"] = "releases.sh",
        ["releases.service"] = "releases-start.sh",
        ["pod-network-images.service"] = "releases-start.sh",
        ["releases-wait.fragment"] = "api-proxy.sh",
        ["install-tool.fragment"] = "releases-start.sh",
        ["kubelet.service"] = "releases.sh",
        ["kubelet-kubeadm.conf"] = "releases.sh",
    };

    private static string LocalKubeconfig() => Render.Kubeconfig("k8s-dev", $"https://{Ports.ApiProxyListen}", FakePki.CaCert, FakePki.AdminCert, FakePki.AdminKey);

    public static IEnumerable<string> CaseNames => Cases.Keys;

    public static IEnumerable<string> ScriptNames => Cases.Keys.Where(k => k.EndsWith(".sh", StringComparison.Ordinal));

    public static IEnumerable<string> YamlNames => Cases.Keys.Where(k => k.EndsWith(".yaml", StringComparison.Ordinal) || k.EndsWith(".yml", StringComparison.Ordinal));

    [TestCaseSource(nameof(CaseNames))]
    public void MatchesGoldenFile(string name)
    {
        var rendered = Cases[name]();
        var path = Repo.Path("tests", "golden", name);
        if (Regenerate(path, rendered, Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1", Repo.InCi) is { } wrote)
        {
            Assert.Fail(wrote);
        }
        Assert.That(File.Exists(path), Is.True, $"no golden file {path}: run the tests with UPDATE_GOLDEN=1 and review it");
        Assert.That(rendered, Is.EqualTo(File.ReadAllText(path)), $"{name} differs from its golden file; if the change is intended, regenerate with UPDATE_GOLDEN=1 and review the diff");
    }

    /// <summary>
    /// With UPDATE_GOLDEN=1, writes a golden file that differs and says so: a regenerating run
    /// fails on every file it changed (review the diff, run again), so it never passes by
    /// rewriting what it checks; under CI it writes nothing and fails.
    /// </summary>
    private static string? Regenerate(string path, string rendered, bool update, bool ci)
    {
        if (!update)
        {
            return null;
        }
        if (ci)
        {
            return "UPDATE_GOLDEN is refused under CI: goldens are regenerated on a development machine and reviewed";
        }
        if (File.Exists(path) && File.ReadAllText(path) == rendered)
        {
            return null;
        }
        File.WriteAllText(path, rendered);
        return $"wrote {path}: review its diff, then run the tests without UPDATE_GOLDEN";
    }

    [Test]
    public void ARegeneratingRunFailsOnEveryFileItChangesAndCiRefusesIt()
    {
        var dir = Directory.CreateTempSubdirectory("golden-").FullName;
        try
        {
            var path = System.IO.Path.Combine(dir, "x.sh");
            File.WriteAllText(path, "old");

            Assert.That(Regenerate(path, "new", update: true, ci: true), Does.Contain("refused under CI"));
            Assert.That(File.ReadAllText(path), Is.EqualTo("old"), "CI writes nothing");
            Assert.That(Regenerate(path, "new", update: true, ci: false), Does.StartWith("wrote "));
            Assert.That(File.ReadAllText(path), Is.EqualTo("new"));
            Assert.That(Regenerate(path, "new", update: true, ci: false), Is.Null, "an unchanged file is checked as usual");
            Assert.That(Regenerate(path, "newer", update: false, ci: false), Is.Null, "without UPDATE_GOLDEN nothing is written");
            Assert.That(File.ReadAllText(path), Is.EqualTo("new"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void EveryTemplateHasAGoldenFile()
    {
        var covered = Cases.Keys.ToHashSet();
        foreach (var template in Template.Names())
        {
            var golden = PartOf.GetValueOrDefault(template, template);
            var stem = System.IO.Path.GetFileNameWithoutExtension(golden);
            Assert.That(covered.Any(c => c == golden || c.StartsWith(stem + ".", StringComparison.Ordinal)), Is.True, $"template {template} has no golden file");
        }
    }

    [TestCaseSource(nameof(ScriptNames))]
    public void ScriptIsStrictAndShellcheckClean(string name)
    {
        var script = Cases[name]();
        Assert.That(script, Does.StartWith("#!/usr/bin/env bash\n"));
        Assert.That(script, Does.Contain("\nset -euo pipefail\n"));

        Repo.RequireTool("shellcheck", "apt-get install shellcheck");
        var (exit, stdout, stderr) = Repo.Run("shellcheck", ["--shell=bash", "--severity=style", "-"], script);
        Assert.That(exit, Is.Zero, $"shellcheck found problems in {name}:\n{stdout}{stderr}");
    }

    [TestCaseSource(nameof(YamlNames))]
    public void YamlParses(string name)
    {
        var yaml = new YamlStream();
        Assert.DoesNotThrow(() => yaml.Load(new StringReader(Cases[name]())));
        Assert.That(yaml.Documents, Is.Not.Empty);
    }

    [Test]
    public void ContainerdsConfigPassesThroughTheUnquotedHereDocumentThatWritesItUnchanged()
    {
        // release-install.fragment writes it with <<CONF so that ${sandbox} expands: nothing else may.
        var config = Render.ContainerdConfig("X");
        Assert.That(config, Does.Not.Contain("$").And.Not.Contain("`").And.Not.Contain("\\"));
        Assert.That(Render.ReleaseInstall(), Does.Contain(Render.ContainerdConfig("${sandbox}").TrimEnd('\n') + "\nCONF\n"));
    }

    [Test]
    public void TemplatesRejectMissingAndUnusedValuesAndUnknownNames()
    {
        var missing = Assert.Throws<InvalidOperationException>(() => Template.Render("wait-for-bootstrap.sh", new Dictionary<string, string>()));
        Assert.That(missing!.Message, Is.EqualTo("template wait-for-bootstrap.sh: no value for {{MARKER}}"));
        var unused = Assert.Throws<InvalidOperationException>(() => Template.Render("wait-for-bootstrap.sh", new Dictionary<string, string> { ["MARKER"] = "m", ["EXTRA"] = "x", ["OTHER"] = "y" }));
        Assert.That(unused!.Message, Is.EqualTo("template wait-for-bootstrap.sh: values never used: EXTRA, OTHER"));
        var unknown = Assert.Throws<InvalidOperationException>(() => Template.Render("no-such.sh", new Dictionary<string, string>()));
        Assert.That(unknown!.Message, Is.EqualTo("no template named no-such.sh"));
    }

    // A step's scripts go to the node in heredocs: a line equal to the delimiter, wherever it is,
    // would end the heredoc early and run the rest of the script as the step itself.
    [TestCase("echo one\nDO_K8S_HA_STEP\necho two")]
    [TestCase("echo one\nDO_K8S_HA_STEP")]
    [TestCase("echo one\nDO_K8S_HA_STEP\n")]
    [TestCase("DO_K8S_HA_STEP\necho two")]
    public void AStepRefusesAScriptWithALineThatWouldEndItsHeredoc(string script)
    {
        Assert.That(Assert.Throws<InvalidOperationException>(() => Render.StepScript(("one", script)))!.Message, Is.EqualTo("script one contains the step delimiter"));
        Assert.That(Assert.Throws<InvalidOperationException>(() => Render.SecretStepScript(("one", script)))!.Message, Is.EqualTo("script one contains the step delimiter"));
    }

    // What a failed step says is all an operator gets: the step, the exit code, how to run it again,
    // and nothing run by accident on the way (a hint in backquotes once ran `pulumi up` on the node).
    [Test]
    public void AFailedStepSaysWhichFailedAndHowToRunItAgain()
    {
        var failing = "#!/usr/bin/env bash\nexit 3\n";
        var scratch = Directory.CreateTempSubdirectory("steps-").FullName;
        try
        {
            var hostname = Repo.Run("hostname", []).Stdout.Trim();
            foreach (var (step, hint) in new[]
            {
                (Render.SecretStepScript(("join-token", failing)), "its scripts hold secrets and are not kept: the next pulumi up runs the step again"),
                (Render.StepScriptIn(scratch, ("etcd-health", failing)), $"read or re-run {scratch}/etcd-health.sh there"),
            })
            {
                var (exit, stdout, stderr) = Repo.Run("bash", ["-c", step]);
                var name = hint.StartsWith("its", StringComparison.Ordinal) ? "join-token" : "etcd-health";
                Assert.That((exit, stdout, stderr), Is.EqualTo((3, "", $"do-k8s-ha: step {name} failed on {hostname} (exit 3); {hint}\n")));
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Test]
    public void AStepTakesTheDelimiterInsideALine() =>
        Assert.That(Render.StepScript(("one", "echo DO_K8S_HA_STEP")), Does.Contain("\necho DO_K8S_HA_STEP\nDO_K8S_HA_STEP\n"));

    // Certificates and keys go to the node in heredocs ended by a line PEM.
    [TestCase("-----BEGIN X-----\nPEM\n-----END X-----")]
    [TestCase("-----BEGIN X-----\nAAAA\nPEM")]
    [TestCase("-----BEGIN X-----\nAAAA\nPEM\n")]
    [TestCase("PEM\n-----BEGIN X-----")]
    public void APemBlockWithALineThatWouldEndItsHeredocIsRefused(string pem)
    {
        var node = new NodeAddress("etcd1", "10.240.0.2");
        var error = Assert.Throws<InvalidOperationException>(() => Render.EtcdCerts(node, pem, new EtcdMemberCredential("-----BEGIN C-----", "-----BEGIN K-----")));
        Assert.That(error!.Message, Is.EqualTo("a PEM block contains its heredoc delimiter"));
        Assert.That(Render.EtcdCerts(node, "-----BEGIN X-----\nAAAA PEM\n-----END X-----\n", new EtcdMemberCredential("c", "k")), Does.Contain("AAAA PEM\n-----END X-----\nPEM\n"));
    }

    // etcd reads peer-transport-security.allowed-cn from its config file from 3.6 on (server/embed/config.go).
    [TestCase("3.6.5", true)]
    [TestCase("3.6.0", true)]
    [TestCase("3.7.1", true)]
    [TestCase("4.0.0", true)]
    [TestCase("4.1", true)]
    [TestCase("3.5.21", false)]
    [TestCase("2.9.0", false)]
    [TestCase("3", false)]
    [TestCase("v3.6.0", false)]
    [TestCase("3.x.0", false)]
    public void EtcdReadsThePeerRuleFromItsConfigFileFrom36On(string version, bool reads)
    {
        Assert.That(Render.EtcdReadsAllowedCns(version), Is.EqualTo(reads));
        var node = new NodeAddress("etcd1", "10.240.0.2");
        var config = Render.EtcdConfig(node, [node], "token", etcdVersion: version);
        Assert.That(config, reads
            ? Does.Contain($"  allowed-cn: [{Render.EtcdMemberCommonName}]")
            : Does.Contain($"  # etcd {version} cannot restrict peers to member certificates from a config file (3.6 can).").And.Not.Contain("allowed-cn"));
    }

    [Test]
    public void ShellValuesAreQuoted() =>
        Assert.That(Sh.Quote("it's $HOME"), Is.EqualTo("'it'\\''s $HOME'"));
}
