using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>Every node: first boot, packages, the local API proxy, and what is run about a node (upgrade, drain, leave).</summary>
public static partial class Render
{
    /// <summary>What user data runs at first boot: the same for every node, role and version (see the template).</summary>
    public static string NodeBootstrap() => Template.Render("node-bootstrap.sh", new Dictionary<string, string>());

    public const string BootstrapPath = "/usr/local/sbin/do-k8s-ha-bootstrap";

    /// <summary>sshd reads its drop-ins in name order and keeps the first value of a key (sshd_config(5)): before the image's 60-cloudimg-settings.conf.</summary>
    public const string SshdConfigPath = "/etc/ssh/sshd_config.d/50-do-k8s-ha.conf";

    /// <summary>
    /// Unauthenticated connections sshd takes before it drops any: as many steps as the engine
    /// runs at once at `--parallel` 512 (4 × nodes, the README's advice, for 128 nodes). A
    /// connection waiting for its key exchange costs a forked sshd until it authenticates.
    /// </summary>
    public const int SshMaxStartups = 512;

    public static string SshdStepsConfig() =>
        Template.Render("sshd-steps.conf", new Dictionary<string, string>
        {
            ["MAX_STARTUPS"] = $"{SshMaxStartups}:30:{2 * SshMaxStartups}",
        });

    /// <summary>
    /// A droplet's cloud-init user data: <see cref="NodeBootstrap"/> and the node's own SSH host
    /// key (OpenSSH private key, and its public key as an authorized_keys line).
    /// </summary>
    public static string NodeUserData(string hostKeyPrivate, string hostKeyPublic)
    {
        if (!hostKeyPrivate.StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new ArgumentException("the host key must be an OpenSSH private key", nameof(hostKeyPrivate));
        }
        // cloud-init names host keys by kind (cc_ssh CONFIG_KEY_TO_FILE): <kind>_private, <kind>_public.
        var kind = hostKeyPublic.Split(' ')[0] switch
        {
            "ssh-ed25519" => "ed25519",
            "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521" => "ecdsa",
            "ssh-rsa" => "rsa",
            var other => throw new ArgumentException($"cloud-init installs no host key of kind '{other}'", nameof(hostKeyPublic)),
        };
        return Template.Render("node-user-data.yaml", new Dictionary<string, string>
        {
            ["KEY_KIND"] = kind,
            ["HOST_KEY_PRIVATE"] = Indent(hostKeyPrivate, 4),
            ["HOST_KEY_PUBLIC"] = hostKeyPublic.Trim(),
            ["SSHD_CONFIG_PATH"] = SshdConfigPath,
            ["SSHD_CONFIG"] = Indent(SshdStepsConfig(), 6),
            ["BOOTSTRAP_PATH"] = BootstrapPath,
            ["BOOTSTRAP_SCRIPT"] = Indent(NodeBootstrap(), 6),
        });
    }

    /// <summary>
    /// The step that makes a droplet's own host key (<paramref name="makeHere"/>), or leaves an
    /// existing droplet with its user data's, and prints the key to pin (<see cref="ParseHostKey"/>).
    /// </summary>
    public static string HostKey(bool makeHere) =>
        Template.Render("host-key.sh", new Dictionary<string, string> { ["MAKE_HERE"] = makeHere ? "true" : "false" });

    /// <summary>The key <see cref="HostKey"/> printed, as an authorized_keys line; null: it made none.</summary>
    public static string? ParseHostKey(string stdout)
    {
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("host-key: ", StringComparison.Ordinal));
        var key = line?["host-key: ".Length..].Trim();
        return key is not null && key.StartsWith("ssh-ed25519 ", StringComparison.Ordinal) ? key + "\n" : null;
    }

    /// <summary>containerd 2's config (version 3) with the pause image kubeadm names for the release.</summary>
    public static string ContainerdConfig(string sandboxImage) =>
        Template.Render("containerd-config.toml", new Dictionary<string, string> { ["SANDBOX_IMAGE"] = sandboxImage });

    /// <summary>
    /// The shell functions that install fetched release files, containerd's and the kubelet's units
    /// and containerd's config (its sandbox image is install_runtime's argument, $sandbox).
    /// </summary>
    public static string ReleaseInstall() =>
        Template.Render("release-install.fragment", new Dictionary<string, string>
        {
            // In an unquoted here-document: the config has no $, ` or \ of its own (RenderedFileTests).
            ["CONTAINERD_CONFIG"] = ContainerdConfig("${sandbox}").TrimEnd('\n'),
            ["CONTAINERD_UNIT"] = Template.Render("containerd.service", new Dictionary<string, string>()).TrimEnd('\n'),
            ["KUBELET_UNIT"] = Template.Render("kubelet.service", new Dictionary<string, string>()).TrimEnd('\n'),
            ["KUBELET_DROPIN"] = Template.Render("kubelet-kubeadm.conf", new Dictionary<string, string>()).TrimEnd('\n'),
        });

    /// <summary>A release's files, one "name version url sha256" line each, as the fetch loops read them.</summary>
    public static string ReleaseFiles(NodeReleases releases, IEnumerable<string>? only = null) =>
        string.Join("\n", releases.Artefacts.Where(a => only is null || only.Contains(a.Name)).Select(a => $"{a.Name} {a.Version} {a.Url} {a.Sha256}"));

    /// <summary>
    /// The node's downloads, verified by the checksum table; on a node that has not joined, also
    /// installed, containerd started and the images pulled; at its end it starts the unit that
    /// pulls the pod network's images (see the template). Its unit runs it (<see cref="ReleasesStart"/>).
    /// </summary>
    public static string Releases(NodeReleases releases, bool controlPlane) =>
        Template.Render("releases.sh", new Dictionary<string, string>
        {
            ["KUBERNETES_VERSION"] = Sh.Quote(releases.Kubernetes.ToString()),
            ["CONTROL_PLANE"] = Sh.Bool(controlPlane),
            ["RELEASE_FETCH"] = Fragment("release-fetch.fragment"),
            ["RELEASE_INSTALL"] = ReleaseInstall(),
            ["FILES"] = ReleaseFiles(releases),
        });

    /// <summary>Where the downloads' unit finds its script (releases.sh).</summary>
    public const string DownloadsTool = "/usr/local/sbin/do-k8s-ha-releases";

    /// <summary>The releases step: the downloads (<see cref="Releases"/>) started in their unit, not waited for (releases-start.sh).</summary>
    public static string ReleasesStart(NodeReleases releases, bool controlPlane, IEnumerable<string> podNetworkImages) =>
        Template.Render("releases-start.sh", new Dictionary<string, string>
        {
            ["INSTALL_TOOL"] = Fragment("install-tool.fragment"),
            ["DOWNLOADS_TOOL"] = DownloadsTool,
            ["DOWNLOADS"] = Releases(releases, controlPlane).TrimEnd('\n'),
            ["UNIT"] = Template.Render("releases.service", new Dictionary<string, string> { ["DOWNLOADS_TOOL"] = DownloadsTool }).TrimEnd('\n'),
            ["PULL_TOOL"] = PodNetworkImagesTool,
            ["PULL_SCRIPT"] = PullImages(podNetworkImages).TrimEnd('\n'),
            ["PULL_UNIT"] = Template.Render("pod-network-images.service", new Dictionary<string, string> { ["PULL_TOOL"] = PodNetworkImagesTool }).TrimEnd('\n'),
            ["KUBERNETES_VERSION"] = releases.Kubernetes.ToString(),
        });

    /// <summary>Pulls images ahead through the node's containerd (pull-images.sh), as its unit runs it.</summary>
    public static string PullImages(IEnumerable<string> images) =>
        Template.Render("pull-images.sh", new Dictionary<string, string> { ["IMAGES"] = string.Join(" ", images.Select(Sh.Quote)) });

    /// <summary>Where the pod network images' unit finds its pull (pull-images.sh).</summary>
    public const string PodNetworkImagesTool = "/usr/local/sbin/do-k8s-ha-pull-pod-network-images";

    /// <summary>
    /// The images Calico's operator runs on every node for a default Installation: calico-node with
    /// its init containers (cni, flexvol) and csi-node-driver (tigera/operator v1.38.11, which
    /// Calico v3.30.6's chart installs: pkg/components/calico.go, default registry quay.io/ in
    /// pkg/components/images.go; pkg/render/node.go, pkg/render/csi.go).
    /// </summary>
    public static IReadOnlyList<string> CalicoNodeImages(string calicoVersion) =>
        [.. new[] { "node", "cni", "pod2daemon-flexvol", "csi", "node-driver-registrar" }.Select(i => $"quay.io/calico/{i}:{calicoVersion}")];

    public static string WaitForBootstrap(string marker = BootstrapMarker) =>
        Template.Render("wait-for-bootstrap.sh", new Dictionary<string, string> { ["MARKER"] = Sh.Quote(marker) });

    /// <summary>Run on a control-plane node before a worker joins: deletes a Node of its name that another droplet left.</summary>
    public static string StaleNode(string nodeName, string dropletId, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("stale-node.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["DROPLET_ID"] = Sh.Quote(dropletId),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    /// <summary>nginx stream config of the local API-server proxy: least_conn over every API server, 1 s connect timeout.</summary>
    public static string ApiProxyConfig(
        string nodeName,
        IEnumerable<string> apiServers,
        string listen = Ports.ApiProxyListen,
        string pidFile = "/run/kube-apiserver-proxy.pid",
        string streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so") =>
        Template.Render("api-proxy.nginx.conf", new Dictionary<string, string>
        {
            ["NODE_NAME"] = nodeName,
            ["STREAM_MODULE"] = streamModule,
            ["PID_FILE"] = pidFile,
            ["LISTEN"] = listen,
            ["UPSTREAM_SERVERS"] = string.Join("\n", apiServers.Select(s => $"    server {s} max_fails=1 fail_timeout=10s;")),
        });

    /// <summary>The proxy every Kubernetes node runs, control-plane nodes too: see <see cref="Ports.ApiProxyListen"/>.</summary>
    public static string ApiProxy(string nodeName, IEnumerable<NodeAddress> controlPlane) =>
        Template.Render("api-proxy.sh", new Dictionary<string, string>
        {
            ["LISTEN"] = Ports.ApiProxyListen,
            ["NGINX_CONF"] = ApiProxyConfig(nodeName, controlPlane.Select(c => $"{c.PrivateIp}:{Ports.ApiServer}")).TrimEnd('\n'),
            ["RELEASES_WAIT"] = ReleasesWait(),
        });

    /// <summary>The nftables rules that keep a node's pods off the metadata service.</summary>
    public static string MetadataGuardRules() =>
        Template.Render("metadata-guard.nft", new Dictionary<string, string> { ["METADATA_ADDRESS"] = Ports.MetadataService });

    /// <summary>The step that loads <see cref="MetadataGuardRules"/> on a Kubernetes node, now and at every boot.</summary>
    public static string MetadataGuard() =>
        Template.Render("metadata-guard.sh", new Dictionary<string, string>
        {
            ["METADATA_ADDRESS"] = Ports.MetadataService,
            ["RULES"] = MetadataGuardRules().TrimEnd('\n'),
        });

    /// <summary>Where a Kubernetes node keeps its kubelet serving certificate, key and their CA's certificate.</summary>
    public const string KubeletServingDir = "/etc/do-k8s-ha/kubelet-serving";

    /// <summary>The kubelet's --config-dir: drop-ins merged over kubeadm's config.yaml, which no kubeadm command rewrites.</summary>
    public const string KubeletConfigDir = "/etc/do-k8s-ha/kubelet-config.d";

    /// <summary>On a control-plane node: the CA the API server trusts for kubelets (--kubelet-certificate-authority).</summary>
    public const string KubeletServingCaFile = "/etc/kubernetes/pki/kubelet-serving-ca.crt";

    /// <summary>The kubelet drop-in that serves <see cref="KubeletServingDir"/>'s certificate and asks the CSR API for none.</summary>
    public static string KubeletServingDropIn() =>
        Template.Render("kubelet-serving.conf", new Dictionary<string, string>
        {
            ["CERT_FILE"] = $"{KubeletServingDir}/serving.crt",
            ["KEY_FILE"] = $"{KubeletServingDir}/serving.key",
        });

    /// <summary>Installs a node's own kubelet serving credential and the drop-in; on a joined node, waits until its kubelet serves it.</summary>
    public static string KubeletServing(NodeAddress node, KubeletServingCredential credential, int waitSeconds = 120) =>
        Template.Render("kubelet-serving.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(node.Name),
            ["NODE_IP"] = Sh.Quote(node.PrivateIp),
            ["DIR"] = Sh.Quote(KubeletServingDir),
            ["CONFIG_DIR"] = Sh.Quote(KubeletConfigDir),
            ["CONFIG_DIR_PATH"] = KubeletConfigDir,
            ["CA_CERT"] = Pem(credential.CaCert),
            ["CERT"] = Pem(credential.Cert),
            ["KEY"] = Pem(credential.Key),
            ["DROPIN"] = KubeletServingDropIn().TrimEnd('\n'),
            ["KUBELET_PORT"] = Ports.Kubelet.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CHECK_CREDENTIAL"] = Fragment("credential-check.fragment"),
        });

    /// <param name="kubeconfigFile">The admin credential of the control-plane node it runs on.</param>
    public static string NodeLeave(string nodeName, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("node-leave.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    /// <param name="releases">The release to move to, and its files.</param>
    /// <param name="first">The first node of the rolling order: it runs `kubeadm upgrade apply`.</param>
    /// <param name="kubeconfigFile">A control-plane node's own admin.conf, with which it drains itself; null for a worker.</param>
    /// <param name="lost">lostNodes: on the first node, dead control-plane nodes kubeadm's preflight passes by.</param>
    public static string NodeUpgrade(string nodeName, NodeReleases releases, bool first, string? kubeconfigFile, int waitSeconds = 600, IReadOnlyCollection<string>? lost = null) =>
        Template.Render("node-upgrade.sh", new Dictionary<string, string>
        {
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["LOST_NODES"] = Sh.Quote(string.Join(" ", lost ?? [])),
            ["TARGET"] = Sh.Quote(releases.Kubernetes.ToString()),
            ["KUBEADM_UPGRADE"] = first ? "apply" : "node",
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile ?? ""),
            ["RETRY"] = Fragment("retry.fragment"),
            ["DRAIN_NODE"] = Fragment("drain-node.fragment"),
            ["RELEASE_FETCH"] = Fragment("release-fetch.fragment"),
            ["RELEASES_WAIT"] = ReleasesWait(),
            ["RELEASE_INSTALL"] = ReleaseInstall(),
            ["FILES"] = ReleaseFiles(releases),
        });

    /// <summary>Drains a worker before its upgrade step, or uncordons it after: run on a control-plane node.</summary>
    public static string WorkerDrain(string nodeName, KubernetesVersion target, bool drain, int waitSeconds = 600, string kubeconfigFile = "/etc/kubernetes/admin.conf") =>
        Template.Render("worker-drain.sh", new Dictionary<string, string>
        {
            ["MODE"] = drain ? "drain" : "uncordon",
            ["RETRY"] = Fragment("retry.fragment"),
            ["DRAIN_NODE"] = Fragment("drain-node.fragment"),
            ["NODE_NAME"] = Sh.Quote(nodeName),
            ["TARGET"] = Sh.Quote(target.ToString()),
            ["WAIT_SECONDS"] = waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["KUBECONFIG_FILE"] = Sh.Quote(kubeconfigFile),
        });

    /// <summary>The shell function that deletes a Node of this name left by a machine it replaces.</summary>
    private static string DeleteStaleNodeFunction() => Fragment("stale-node.fragment");
}
