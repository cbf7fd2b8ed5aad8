using System.Text.Json;
using DoK8sHa.Config;

namespace DoK8sHa.Tests;

/// <summary>
/// The checksum table (infra/Config/releases.json) and the config rules built on it: no release is
/// accepted whose every download the table or the stack's releaseChecksums does not pin.
/// </summary>
public class ReleaseTableTests
{
    private static readonly string[] Files = ["kubeadm", "kubelet", "kubectl", "containerd", "runc", "crictl", "cni"];

    private static Dictionary<string, string> With(params (string Key, string Value)[] pairs)
    {
        var values = ConfigParserTests.Valid();
        foreach (var (key, value) in pairs)
        {
            values[key] = value;
        }
        return values;
    }

    [Test]
    public void EveryReleaseTheConfigAndTheUpdateRulesAcceptHasEveryDownloadsChecksum()
    {
        var accepted = new List<KubernetesVersion>();
        for (var minor = 30; minor <= 40; minor++)
        {
            for (var patch = 0; patch <= 25; patch++)
            {
                var text = $"1.{minor}.{patch}";
                try
                {
                    var settings = ConfigParserTests.Parse(With(("kubernetesVersion", text)), out _);
                    accepted.Add(settings.KubernetesVersion);
                    Assert.That(settings.NodeReleases.Artefacts.Select(a => a.Name), Is.EquivalentTo(Files), text);
                    Assert.That(settings.NodeReleases.Artefacts.Select(a => a.Sha256), Has.All.Match("^[0-9a-f]{64}$"), text);
                }
                catch (ConfigException)
                {
                    Assert.That(ReleaseTable.Holds(KubernetesVersion.TryParse(text, out var v) ? v : null!), Is.False, $"{text} is in the table but refused");
                }
            }
        }
        Assert.That(accepted, Is.EquivalentTo(ReleaseTable.Versions), "the config accepts exactly the table's releases");
        // Every upgrade the update rules allow lands on a release the table holds (the config gates the target).
        foreach (var from in ReleaseTable.Versions)
        {
            foreach (var to in accepted)
            {
                var (problems, _) = UpdateRules.Judge(new PreviousDeployment(from), to, ["node1", "node2", "node3"]);
                if (problems.Count == 0)
                {
                    Assert.That(ReleaseTable.For(to), Is.Not.Null, $"{from} -> {to}");
                }
            }
        }
    }

    [Test]
    public void TheTableHoldsTheThreeNewestMinorsItsNewestIsTheDefaultAndItNamesItsSource()
    {
        Assert.That(ReleaseTable.Minors, Has.Count.EqualTo(3));
        Assert.That(ReleaseTable.Minors.Zip(ReleaseTable.Minors.Skip(1)).All(p => p.Second.Minor == p.First.Minor + 1), Is.True, "consecutive minors");
        Assert.That(ReleaseTable.Newest.ToString(), Is.EqualTo(ConfigDefaults.KubernetesVersion), "the default is the newest release the program supports");
        Assert.That(ConfigParserTests.Parse(ConfigParserTests.Valid(), out _).KubernetesVersion, Is.EqualTo(ReleaseTable.Newest));
        Assert.That(ReleaseTable.Source, Does.Match("^kubernetes-sigs/kubespray [0-9a-f]{40} "), "the table names where its checksums come from");
    }

    [Test]
    public void EachMinorPairsWithContainerd2AndTheFilesHaveTheirReleaseUrls()
    {
        foreach (var version in ReleaseTable.Versions)
        {
            var releases = ReleaseTable.For(version)!;
            // Kubernetes 1.36 is the first that needs containerd 2 (containerd RELEASES.md); the
            // program runs containerd 2 with every minor it supports, so an upgrade never waits for it.
            Assert.That(releases.Containerd, Does.StartWith("2."), version.ToString());
            Assert.That(releases["kubelet"].Url, Is.EqualTo($"https://dl.k8s.io/release/v{version}/bin/linux/amd64/kubelet"));
            // crictl follows the Kubernetes minor (cri-tools' README recommends the same minor), or the
            // one before it while no sourced checksum of the minor's own is here (1.37: crictl 1.36.0;
            // the README's matrix pairs Kubernetes >= 1.27 with cri-tools >= 1.27). Never a newer one.
            var crictlMinor = int.Parse(releases["crictl"].Version.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(crictlMinor, Is.InRange(version.Minor - 1, version.Minor), $"crictl {releases["crictl"].Version} for {version}");
            Assert.That(releases["containerd"].Url, Is.EqualTo($"https://github.com/containerd/containerd/releases/download/v{releases.Containerd}/containerd-{releases.Containerd}-linux-amd64.tar.gz"));
        }
    }

    [Test]
    public void ChecksumsReadBeforeFromKubesprayAgreeWithTheTable()
    {
        // Read independently in an earlier session from the same Kubespray file (first and last hex digits).
        var releases = ReleaseTable.For(new KubernetesVersion(1, 36, 4))!;
        Assert.That(releases["kubeadm"].Sha256, Does.StartWith("10d05458").And.EndWith("0fe6"));
        Assert.That(releases["kubelet"].Sha256, Does.StartWith("cf2562db").And.EndWith("8b4b"));
        Assert.That(releases["kubectl"].Sha256, Does.StartWith("8b8f088d").And.EndWith("d05a"));
        Assert.That(releases["containerd"].Sha256, Does.StartWith("9d689698").And.EndWith("d168"));
        Assert.That(releases["runc"].Sha256, Does.StartWith("f6ae8efc").And.EndWith("5e60"));
        Assert.That(releases["cni"].Sha256, Does.StartWith("b98f74a0").And.EndWith("b303"));
        Assert.That(ReleaseTable.For(new KubernetesVersion(1, 35, 8))!["kubelet"].Sha256, Does.StartWith("6971b9f9").And.EndWith("a923"));
    }

    [Test]
    public void ChecksumsOfTheNewestMinorAgreeWithKubernetesOwnPublishedSums()
    {
        // Kubespray's table has no 1.37 yet (kubernetes-sigs/kubespray#13545). kOps' generated
        // pkg/assets/assetdata/k8s-1.37.yaml (kubernetes/kops 9b02081e) copies each release's
        // dl.k8s.io SHA256SUMS; read in an earlier session (first and last hex digits), and for
        // 1.37.0 also from a table of the .sha256 files beside each binary.
        var v0 = ReleaseTable.For(new KubernetesVersion(1, 37, 0))!;
        Assert.That(v0, Is.Not.Null, "1.37.0 is in the table");
        Assert.That(v0["kubeadm"].Sha256, Does.StartWith("9406f2e7").And.EndWith("9352"));
        Assert.That(v0["kubelet"].Sha256, Does.StartWith("ee554f77").And.EndWith("b044"));
        Assert.That(v0["kubectl"].Sha256, Does.StartWith("6129359f").And.EndWith("1a2f"));
        var v1 = ReleaseTable.For(new KubernetesVersion(1, 37, 1))!;
        Assert.That(v1, Is.Not.Null, "1.37.1 is in the table");
        Assert.That(v1["kubeadm"].Sha256, Does.StartWith("087b6340").And.EndWith("ecd3"));
        Assert.That(v1["kubelet"].Sha256, Does.StartWith("cee008c1").And.EndWith("8293"));
        Assert.That(v1["kubectl"].Sha256, Does.StartWith("65691ff7").And.EndWith("21a8"));
        Assert.That(v1.Containerd, Does.StartWith("2."), "1.37 runs containerd 2");
    }

    [TestCase("1.34.9", "outside the supported minors")]
    [TestCase("1.39.0", "outside the supported minors")]
    [TestCase("1.37.99", "is not in the checksum table")]
    [TestCase("1.38.0", "is not in the checksum table")]
    public void AReleaseTheTableLacksIsRefusedNamingTheKeyAndTheFix(string version, string why)
    {
        var error = ConfigParserTests.Fails(With(("kubernetesVersion", version)));
        Assert.That(error.Problems, Has.Exactly(1).StartsWith($"do-k8s-ha:kubernetesVersion: {version} ").And.Contain(why).And.Contain($"Fix: use {ReleaseTable.Newest}"));
    }

    [Test]
    public void TheNextMinorRunsWithTheChecksumsTheStackGives()
    {
        var sha = new string('a', 64);
        var values = With(("kubernetesVersion", "1.38.0"), ("releaseChecksums", JsonSerializer.Serialize(new { kubeadm = sha, kubelet = sha, kubectl = sha.ToUpperInvariant() })));
        var settings = ConfigParserTests.Parse(values, out var warnings);
        Assert.That(settings.NodeReleases["kubectl"].Sha256, Is.EqualTo(sha));
        Assert.That(settings.NodeReleases["kubeadm"].Url, Is.EqualTo("https://dl.k8s.io/release/v1.38.0/bin/linux/amd64/kubeadm"));
        Assert.That(settings.NodeReleases.Containerd, Is.EqualTo(ReleaseTable.For(ReleaseTable.Newest)!.Containerd), "the runtime of the table's newest minor");
        Assert.That(warnings, Has.Some.Contain("1.38.0 is not in the checksum table"));
    }

    [Test]
    public void AChecksumThatDiffersFromTheTablesIsUsedAndWarnedAbout()
    {
        var sha = new string('b', 64);
        var settings = ConfigParserTests.Parse(With(("kubernetesVersion", "1.36.4"), ("releaseChecksums", $$"""{"runc": "{{sha}}"}""")), out var warnings);
        Assert.That(settings.NodeReleases["runc"].Sha256, Is.EqualTo(sha));
        Assert.That(warnings, Has.Some.Contain("releaseChecksums.runc").And.Contain("pulumi config rm --path releaseChecksums.runc"));
    }

    [TestCase("""{"kubeadm": "abc"}""", "releaseChecksums.kubeadm: 'abc' is not a SHA-256 hex digest")]
    [TestCase("""{"etcd": "abc"}""", "releaseChecksums.etcd: names no file a node downloads")]
    [TestCase("""["x"]""", "releaseChecksums: is not an object")]
    public void BadChecksumsAreNamed(string json, string problem)
    {
        var error = ConfigParserTests.Fails(With(("releaseChecksums", json)));
        Assert.That(error.Message, Does.Contain($"do-k8s-ha:{problem}").And.Contain("Fix: give an object of file names"));
    }
}
