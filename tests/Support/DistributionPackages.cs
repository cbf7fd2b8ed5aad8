namespace DoK8sHa.Tests.Support;

/// <summary>
/// The Debian packages an earlier release of this program installed on a Kubernetes node, built
/// with the real dpkg-deb for the real dpkg and apt to install and remove: Ubuntu's containerd 1.7
/// (upstream's containerd.service and Debian's config.toml as its conffile, as this machine's
/// Debian containerd ships them; its maintainer scripts are that package's own, which
/// dh_installsystemd wrote: the prerm stops containerd.service on removal, the postinst enables and
/// starts it), and from pkgs.k8s.io kubelet (its unit), kubeadm (the kubelet's 10-kubeadm.conf
/// drop-in), kubectl, kubernetes-cni (/opt/cni/bin) and cri-tools (crictl). runc is this
/// machine's own Debian package, installed already.
/// What runs from them: containerd is the containerd stand-in at 1.7.28, which loads its version 2
/// config as 1.7 does and keeps its images under its root; crictl is the crictl stand-in; kubelet,
/// kubeadm and kubectl only print their release (the upgrade asks `kubelet --version` of the
/// node's, and runs the release's kubeadm); the CNI plugins only print theirs.
/// </summary>
public static class DistributionPackages
{
    public const string ContainerdVersion = "1.7.28";
    public const string KubernetesVersion = "1.35.8";

    /// <summary>Every package, built under <paramref name="dir"/>; the paths of the .deb files.</summary>
    public static IReadOnlyList<string> Build(string dir)
    {
        Repo.RequireTool("dpkg-deb", "apt-get install dpkg");
        Repo.RequireTool("deb-systemd-invoke", "apt-get install init-system-helpers");
        // Debian's containerd package: its unit, conffile and maintainer scripts are the 1.7 package's.
        Repo.RequireTool("containerd", "apt-get install containerd");
        var version = $"{KubernetesVersion}-1.1";
        var echo = (string what) => $"#!/bin/sh\necho \"{what}\"\n";
        var packages = new List<(string Name, string Version, string Depends, (string Path, string Text, int Mode)[] Files, string[] Conffiles, bool ContainerdScripts)>
        {
            ("containerd", $"{ContainerdVersion}-0ubuntu1~24.04.1", "runc", [
                ("/usr/bin/containerd", File.ReadAllText(Repo.Path("tests", "Support", "standins", "containerd")).Replace("\"CONTAINERD_STAND_IN_VERSION\"", $"\"{ContainerdVersion}\"", StringComparison.Ordinal), 0b111_101_101),
                ("/usr/bin/containerd-shim-runc-v2", echo($"containerd-shim-runc-v2 github.com/containerd/containerd v{ContainerdVersion}"), 0b111_101_101),
                // The path of this machine's package (merged /usr: /lib is /usr/lib), so dpkg's
                // upgrade over it keeps the file instead of removing it as the old package's.
                ("/lib/systemd/system/containerd.service", File.ReadAllText("/lib/systemd/system/containerd.service"), 0b110_100_100),
                ("/etc/containerd/config.toml", File.ReadAllText("/etc/containerd/config.toml"), 0b110_100_100),
            ], ["/etc/containerd/config.toml"], true),
            ("kubelet", version, "", [
                ("/usr/bin/kubelet", echo($"Kubernetes v{KubernetesVersion}"), 0b111_101_101),
                ("/lib/systemd/system/kubelet.service", "[Unit]\nDescription=kubelet: The Kubernetes Node Agent\n\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n", 0b110_100_100),
            ], [], false),
            ("kubeadm", version, "", [
                ("/usr/bin/kubeadm", echo($"kubeadm version: v{KubernetesVersion}"), 0b111_101_101),
                ("/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS\n", 0b110_100_100),
            ], [], false),
            ("kubectl", version, "", [("/usr/bin/kubectl", echo($"Client Version: v{KubernetesVersion}"), 0b111_101_101)], [], false),
            ("kubernetes-cni", "1.7.1-1.1", "", [.. new[] { "bridge", "host-local", "loopback", "portmap" }.Select(p => ($"/opt/cni/bin/{p}", echo($"CNI {p} plugin v1.7.1"), 0b111_101_101))], [], false),
            ("cri-tools", "1.35.0-1.1", "", [("/usr/bin/crictl", File.ReadAllText(Repo.Path("tests", "Support", "standins", "crictl")), 0b111_101_101)], [], false),
        };
        var debs = new List<string>();
        foreach (var (name, packageVersion, depends, files, conffiles, containerdScripts) in packages)
        {
            var root = Path.Combine(dir, name);
            var debian = Directory.CreateDirectory(Path.Combine(root, "DEBIAN")).FullName;
            foreach (var (path, text, mode) in files)
            {
                var file = Path.Combine(root, path.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                File.WriteAllText(file, text);
                SetMode(file, mode);
            }
            var control = new List<string> { $"Package: {name}", $"Version: {packageVersion}", "Architecture: amd64", "Maintainer: do-k8s-ha tests <tests@do-k8s-ha.invalid>" };
            if (depends.Length > 0)
            {
                control.Add($"Depends: {depends}");
            }
            control.Add($"Description: {name} as an earlier release of do-k8s-ha installed it (a test package)");
            File.WriteAllText(Path.Combine(debian, "control"), string.Join('\n', control) + "\n");
            if (conffiles.Length > 0)
            {
                File.WriteAllText(Path.Combine(debian, "conffiles"), string.Join('\n', conffiles) + "\n");
            }
            if (containerdScripts)
            {
                foreach (var script in new[] { "postinst", "prerm", "postrm" })
                {
                    var target = Path.Combine(debian, script);
                    File.Copy($"/var/lib/dpkg/info/containerd.{script}", target);
                    SetMode(target, 0b111_101_101);
                }
            }
            var deb = Path.Combine(dir, $"{name}_{packageVersion}_amd64.deb");
            var (exit, stdout, stderr) = Repo.Run("dpkg-deb", ["--build", "--root-owner-group", root, deb], timeoutSeconds: 60);
            if (exit != 0)
            {
                throw new InvalidOperationException($"dpkg-deb {name}: {stdout}{stderr}");
            }
            debs.Add(deb);
        }
        return debs;
    }

    private static void SetMode(string path, int mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)mode);
        }
    }
}
