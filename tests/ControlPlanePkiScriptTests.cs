using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// control-plane-pki.sh run for real, in a private mount namespace whose /etc/kubernetes is
/// scratch space, with the program's real PKI: what it installs, with which modes, that a second
/// run changes nothing, and that it never puts a second CA beside another.
/// </summary>
[NonParallelizable]
public class ControlPlanePkiScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Node() => _node = new StubbedNode();

    [TearDown]
    public void Remove() => _node?.Dispose();

    private static string Script => Render.ControlPlanePki(RealPki.Material, "apiVersion: v1\nkind: Config\n");

    [Test]
    public void InstallsThePkiAndTheProgramsKubeconfigRootOnlyAndIsIdempotent()
    {
        var run = _node.Run($"""
            bash -c {Sh.Quote(Script)}
            bash -c {Sh.Quote(Script)}
            stat -c '%a %n' /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/ca.key /etc/kubernetes/pki/sa.key /etc/kubernetes/pki/etcd/ca.crt \
              /etc/kubernetes/pki/apiserver-etcd-client.key {Render.ProgramKubeconfig}
            sha256sum /etc/kubernetes/pki/ca.crt
            ls /etc/kubernetes/pki | grep -c '\.new$' || true
            """, ["/etc/kubernetes"]);

        Assert.That(run.Exit, Is.Zero, run.Output);
        Assert.That(run.Output.Split('\n').Count(l => l == "control-plane certificates are in /etc/kubernetes/pki"), Is.EqualTo(2));
        Assert.That(run.Output, Does.Contain("644 /etc/kubernetes/pki/ca.crt").And.Contain("600 /etc/kubernetes/pki/ca.key")
            .And.Contain("600 /etc/kubernetes/pki/sa.key").And.Contain("644 /etc/kubernetes/pki/etcd/ca.crt")
            .And.Contain("600 /etc/kubernetes/pki/apiserver-etcd-client.key").And.Contain($"600 {Render.ProgramKubeconfig}"));
        var expected = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(RealPki.Material.CaCert.TrimEnd('\n') + "\n"))).ToLowerInvariant();
        Assert.That(run.Output, Does.Contain($"{expected}  /etc/kubernetes/pki/ca.crt"));
        Assert.That(run.Output.TrimEnd().Split('\n').Last(), Is.EqualTo("0"), "no half-written file is left");
    }

    [Test]
    public void RefusesToPutItsCaOverAnotherAndLeavesItAsItWas()
    {
        var run = _node.Run($"""
            mkdir -p /etc/kubernetes/pki
            printf 'another CA\n' > /etc/kubernetes/pki/ca.crt
            rc=0
            bash -c {Sh.Quote(Script)} || rc=$?
            echo "rc=$rc"
            cat /etc/kubernetes/pki/ca.crt
            """, ["/etc/kubernetes"]);

        Assert.That(run.Output, Does.Contain("rc=1"));
        Assert.That(run.Output, Does.Contain("holds another CA: this node was made with another PKI. Not mixing CAs"));
        Assert.That(run.Output, Does.Contain("another CA"));
        Assert.That(run.Output, Does.Not.Contain("control-plane certificates are in"));
    }
}
