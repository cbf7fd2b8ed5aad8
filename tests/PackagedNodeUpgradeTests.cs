using DoK8sHa.Config;
using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// A node an earlier release of this program set up from packages (Ubuntu's containerd 1.7 and
/// runc; kubelet, kubeadm, kubectl held, kubernetes-cni and cri-tools from pkgs.k8s.io) takes its
/// upgrade step as a droplet runs it: the step's text on the standard input of the real step
/// runner, as root, on the real paths (<see cref="DownloadNode"/>, with /usr its own). The real
/// apt-get and dpkg remove the packages (<see cref="DistributionPackages"/>), whose maintainer
/// scripts stop containerd through deb-systemd-invoke, and containerd 2 from the release files
/// starts on the same root, where the images the node's pods run are.
/// </summary>
[NonParallelizable]
public class PackagedNodeUpgradeTests
{
    // Images a 1.35 worker's pods run (kube-proxy, the sandbox, a CNI's), pulled through
    // containerd 1.7 before the upgrade.
    private static readonly string[] PodImages = [$"registry.k8s.io/kube-proxy:v{DistributionPackages.KubernetesVersion}", "registry.k8s.io/pause:3.10.1", "docker.io/calico/node:v3.30.6"];

    private static readonly string[] Packages = ["kubelet", "kubeadm", "kubectl", "kubernetes-cni", "cri-tools", "containerd", "runc"];

    [Test]
    public void AWorkerSetUpFromPackagesMovesToContainerd2OnTheSameRootKeepingItsImages()
    {
        using var node = new DownloadNode(ownUsr: true);
        // The minor after the packages': containerd RELEASES.md lists 1.36 with containerd 2.2 or later only.
        var target = ReleaseTable.Versions.Last(v => v.Minor == 36);
        var releases = ReleaseTable.For(target, StandInReleases.Build(node.Root, ReleaseTable.For(target)!))!;
        var debs = DistributionPackages.Build(Directory.CreateDirectory(Path.Combine(node.Dir, "debs")).FullName);
        var step = Render.StepScript(("node-upgrade", Render.NodeUpgrade("worker1", releases, first: false, kubeconfigFile: null)));

        // The earlier release's boot: the packages, held; containerd's `config default` with the
        // systemd cgroup driver and 1.35's sandbox image (a version 2 config, which 1.7 reads); the
        // pods' images pulled; the node joined.
        var before = $$"""
            set -e
            # A droplet runs systemd and has no policy-rc.d (this machine's image has one that
            # answers 101, which would keep the maintainer scripts from touching any service).
            mkdir -p /run/systemd/system
            rm -f /usr/sbin/policy-rc.d
            # apt runs dpkg, and so the maintainer scripts, with PATH set to DPkg::Path
            # (apt-pkg/deb/dpkgpm.cc; apt-pkg/init.cc: /usr/sbin:/usr/bin:/sbin:/bin), where a
            # droplet's systemctl is: the stand-in is put there on this node's own /usr.
            install -m 0755 /usr/local/sbin/systemctl /usr/bin/systemctl
            dpkg -i --force-confold {{string.Join(' ', debs)}} >/dev/null
            apt-mark hold kubelet kubeadm kubectl >/dev/null
            cat > /etc/containerd/config.toml <<'CONF'
            version = 2
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "registry.k8s.io/pause:3.10.1"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
              SystemdCgroup = true
            CONF
            systemctl restart containerd
            for _ in $(seq 50); do crictl info >/dev/null 2>&1 && break; sleep 0.1; done
            echo "before: $(containerd --version) $(crictl info)"
            {{string.Join('\n', PodImages.Select(i => $"crictl pull {i} >/dev/null"))}}
            mkdir -p /etc/kubernetes
            : > /etc/kubernetes/kubelet.conf
            : > /run/systemctl-stand-in/log
            echo before-ok
            """;
        var after = $$"""
            for p in {{string.Join(' ', Packages)}}; do echo "package $p: $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || echo none)"; done
            for f in /usr/bin/containerd /usr/bin/crictl /usr/bin/kubelet /lib/systemd/system/kubelet.service.d/10-kubeadm.conf; do [ -e "$f" ] && echo "left: $f"; done
            echo "runs: $(command -v containerd) $(containerd --version)"
            echo "effective: $(cat /run/containerd/effective.json)"
            {{string.Join('\n', PodImages.Select(i => $"crictl inspecti {i} >/dev/null && echo \"kept {i}\""))}}
            echo "cni: $(/opt/cni/bin/bridge)"
            echo "kubelet: $(kubelet --version)"
            sed 's/^/systemctl-log: /' /run/systemctl-stand-in/log
            """;

        var (exit, output, checks) = node.Run(step, before: before, after: after);

        Assert.That(output, Does.Contain("before-ok").And.Contain($"before: containerd github.com/containerd/containerd v{DistributionPackages.ContainerdVersion}"), "the earlier release's node, containerd 1.7 serving: " + output);
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain($"removed the distribution's {string.Join(' ', Packages)}"));
        foreach (var p in Packages)
        {
            Assert.That(checks, Does.Not.Contain($"package {p}: install ok installed"), $"{p} is removed");
        }
        // A removal is not a purge: containerd's conffile is kept (and the release's config is written over it).
        Assert.That(checks, Does.Contain("package containerd: deinstall ok config-files"));
        Assert.That(checks, Does.Not.Contain("left: "), "nothing of the packages is left where the node looks for what it runs");
        Assert.That(checks, Does.Contain($"runs: /usr/local/bin/containerd containerd github.com/containerd/containerd/v2 v{releases.Containerd}"));
        Assert.That(checks, Does.Match("effective: .*\"version\": 3, \"root\": \"/var/lib/containerd\", \"sandbox\": \"registry.k8s.io/pause:3.10.2\""), "containerd 2 read the release's config, on the 1.7 node's root");
        foreach (var image in PodImages)
        {
            Assert.That(checks, Does.Contain($"kept {image}"), "the pods' images are there for containerd 2");
        }
        Assert.That(checks, Does.Contain($"cni: CNI bridge plugin v{releases["cni"].Version}"), "the package's removal took none of the release's CNI plugins");
        Assert.That(checks, Does.Contain($"kubelet: Kubernetes v{target}"));
        // The package's prerm stopped its containerd (deb-systemd-invoke) before the release's started.
        var log = checks.Split('\n').Where(l => l.StartsWith("systemctl-log: ", StringComparison.Ordinal)).ToList();
        var stop = log.FindIndex(l => l.Contains("stop containerd.service", StringComparison.Ordinal));
        Assert.That(stop, Is.GreaterThanOrEqualTo(0), string.Join('\n', log));
        Assert.That(log.FindIndex(l => l == "systemctl-log: systemctl restart containerd"), Is.GreaterThan(stop), string.Join('\n', log));
    }
}
