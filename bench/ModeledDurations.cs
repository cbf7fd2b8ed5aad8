namespace DoK8sHa.Bench;

/// <summary>
/// How long each kind of resource takes in the real world, in seconds. The benchmark sleeps
/// <see cref="MillisecondsPerSecond"/> for each second. Sources are public; where they give a
/// range, the middle is used.
/// </summary>
public static class ModeledDurations
{
    /// <summary>
    /// Real time per modeled second: large enough that the mock engine's own work (hundreds of
    /// registrations at once on two cores) stays small beside the modeled durations.
    /// </summary>
    public const int MillisecondsPerSecond = 5;

    public static readonly IReadOnlyList<(string Match, int Seconds, string Why)> Table =
    [
        // DigitalOcean API objects that are records, not machines.
        ("digitalocean:index/vpc:Vpc", 3, "API call"),
        ("digitalocean:index/sshKey:SshKey", 1, "API call"),
        ("digitalocean:index/tag:Tag", 1, "API call"),
        ("digitalocean:index/firewall:Firewall", 3, "API call"),
        // DigitalOcean: a droplet is active in under a minute (docs.digitalocean.com, "Create Droplets").
        ("digitalocean:index/droplet:Droplet", 45, "droplet active"),
        // DigitalOcean: a load balancer takes a few minutes to provision (docs.digitalocean.com, Load Balancers quickstart).
        ("digitalocean:index/loadBalancer:LoadBalancer", 120, "load balancer active"),
        // A node's departure steps have no create command: pulumi-command connects nowhere
        // (remote/commandController.go). Were 2 s, an echo over SSH.
        ("command:remote:Command:leave-", 0, "nothing to do at creation"),
        // The API answers through a new load balancer after 2 health checks of 3 s; the step's
        // dials through the balancer's SSH relay retry until then (was a local probe, same wait).
        ("command:remote:Command:.api-ready", 6, "2 load-balancer health checks"),
        // A node's wait for cloud-init: see BootWait (its time runs from the droplet's boot).
        ("command:remote:Command:.bootstrapped", BootWait.SecondsAfterActive, "sshd up, then cloud-init"),
        // A Kubernetes node's releases step: from the droplet's boot, its dials wait for sshd (see
        // BootWait), then one SSH connection writes the downloads' unit and starts it without
        // waiting (releases-start.sh), like the credentials. The downloads run on the node from
        // then, holding no slot (see Downloads); node setup waits for them. (Was 65 s, the
        // downloads waited for in the step.)
        ("command:remote:Command:.releases", 3, "sshd up, then the downloads' unit started"),
        // A node's own host key: one ssh-keygen and an sshd reload over the SSH connection the
        // bootstrap wait just used (a step after it on the longest path, like the credentials).
        ("command:remote:Command:.host-key", 2, "host key made on the droplet"),
        // A node's credentials (certificates, keys, API server files) written over SSH and checked
        // with openssl: one connection, a few files (before the etcd and control-plane entries,
        // whose names they extend).
        ("command:remote:Command:.credentials", 3, "credentials"),
        // An etcd member's service, one member after another: at creation a start that returns
        // at once (--no-block), one SSH connection (before the etcd entry, whose names it extends).
        ("command:remote:Command:.service", 2, "etcd start"),
        // Download of a ~25 MB etcd release, 3 s at the 9.3 MB/s the downloads below are modeled
        // at, and the member's configuration, 3 s like the credentials (its certificates in
        // .credentials, its start in .service). (Was 25 s, before the rate had a source.)
        ("command:remote:Command:etcd-", 6, "etcd member"),
        // Join tokens: one `kubeadm token` call over SSH on a control-plane node (before the
        // control-plane entries: a token step's name starts with its join step's).
        ("command:remote:Command:.token-used", 2, "kubeadm token delete"),
        ("command:remote:Command:.token", 3, "kubeadm token create"),
        // kubeadm init with its images pulled ahead (releases.sh) and the certificates given: its
        // kubelet healthy after 1.5 s and the API server after 12 s on a DigitalOcean droplet
        // (v1.34.3, aganesan94/cka additional-resources/kubeadm-logs.md), then a few API writes.
        // (Was 90 s with the images' pull, "a minute or two": kubeadm's preflight.)
        ("command:remote:Command:control-plane-node1", 25, "kubeadm init"),
        // Its images pulled ahead too: the 75 s less the control plane's three (~95 MB at the
        // 9.3 MB/s above).
        ("command:remote:Command:control-plane-", 65, "kubeadm join --control-plane"),
        // The API proxy: its config and an nginx start over one SSH connection, like the
        // credentials (was 50 s: kubeadm, kubelet and kubectl from pkgs.k8s.io, 30 s, now in the
        // downloads, and 20 s first counted for an apt install of nginx, now cloud-init's), after
        // its wait for the node's downloads (see Downloads), which a worker's, after the control
        // plane's init, finds long done.
        ("command:remote:Command:node-setup-", 5, "downloads waited for, then the API proxy"),
        // One nft load and a unit over SSH, like the credentials: nftables comes with cloud-init's
        // packages (node-bootstrap.sh; was 10 s with its apt install here, where the image lacked
        // it: an install from the mirror like nginx's, measured above).
        ("command:remote:Command:metadata-guard-", 3, "pods kept off the metadata service"),
        // A node's kubelet serving certificate: files over one SSH connection, checked with
        // openssl, like the credentials; before a join, no kubelet to wait for. Off the longest
        // path: beside the downloads.
        ("command:remote:Command:kubelet-serving-", 3, "kubelet serving certificate"),
        // At creation the API servers already use the inventory's etcd members: a check over SSH.
        ("command:remote:Command:apiserver-endpoints-", 3, "nothing to change"),
        ("command:remote:Command:-join", 40, "kubeadm join (TLS bootstrap)"),
        // One kubectl get (and at most one delete) over SSH on the first control-plane node.
        ("command:remote:Command:.stale-node", 3, "stale Node check"),
        // Helm installs that wait for their workloads (Calico: operator, then calico-node on every
        // node). calico/node and calico/cni are on every node ahead now (releases.sh): 90 s less
        // their pull at the rate above (254 MB, 27 s), 60 s.
        ("kubernetes:helm.sh/v3:Release:addons-calico", 60, "Calico ready"),
        // metrics-server is ready at its first scrape of the kubelets, whose serving certificates
        // are in place before they join (no approver to wait for now): an image pull and start,
        // then its readiness probe from 20 s (chart values.yaml, initialDelaySeconds), after its
        // first 15 s scrape. (Was the approver's 30 s, then one 15 s scrape.)
        ("kubernetes:helm.sh/v3:Release:addons-metrics-server", 45, "pull, start, readiness after first scrape"),
        ("kubernetes:helm.sh/v3:Release:", 40, "chart ready"),
        // Beside metrics-server, after Calico: a small deployment, and a DaemonSet whose pods
        // start on every node at once (one image pull each). Neither is on the longest path.
        ("kubernetes:yaml/v2:ConfigGroup:addons-dns-autoscaler", 30, "autoscaler ready"),
        ("kubernetes:yaml/v2:ConfigGroup:addons-nodelocaldns", 30, "node-cache ready on every node"),
        // The gate polls (cluster-health.sh, etcd-health.sh) and runs after everything it checks
        // was waited for: Calico's 90 s include calico-node on every node (so each node is Ready),
        // the DNS add-ons their pods, metrics-server its first scrape, after which CoreDNS, also
        // waiting only for the pod network, has long been up. Its first pass succeeds: a few
        // etcdctl and kubectl calls over one SSH connection. (Was 45 s, a second wait for nodes
        // Ready after the CNI, which Calico's release already counts.)
        ("command:remote:Command:health-check", 5, "one passing poll"),
    ];

    /// <summary>
    /// A node's `.bootstrapped` step waits for sshd, which answers ~10-20 s after the droplet
    /// reports active (15 s; the step's dials retry until then), then for cloud-init: apt update
    /// and nginx, 45 s (nftables since, a few hundred kB more, is not counted: cloud-init ends
    /// 20 s before a node's downloads, which its bootstrap wait now follows). (Was 120 s with containerd's install too: the three parts' shares
    /// measured by installing the same packages on the development machine, Debian 12's, from
    /// its mirror: apt-get update 0.9 s, containerd and runc 6.7 s, nginx and its stream module
    /// 2.8 s; containerd was 64 % of it.) Both run on the droplet from its boot, not from the step's
    /// start: a step that gets its engine slot late finds them further along, and ends
    /// <see cref="SecondsAfterActive"/> after its droplet became active, or after one SSH
    /// connection and one `cloud-init status --wait` (<see cref="MinimumSeconds"/>) when that is past.
    /// </summary>
    public static class BootWait
    {
        public const int SecondsAfterActive = SshdSeconds + 45;
        public const int MinimumSeconds = 2;

        /// <summary>sshd answers ~10-20 s after the droplet reports active.</summary>
        public const int SshdSeconds = 15;

        /// <summary>The node whose downloads a step's name says it is: "node1.releases" → "node1".</summary>
        public static string? DownloadsOf(string name) =>
            name.EndsWith(".releases", StringComparison.Ordinal) ? name[..^".releases".Length] : null;

        /// <summary>The node a step's name says it waits for, or null: "node1.bootstrapped" → "node1".</summary>
        public static string? NodeOf(string name) =>
            name.EndsWith(".bootstrapped", StringComparison.Ordinal) ? name[..^".bootstrapped".Length] : null;
    }

    /// <summary>
    /// A Kubernetes node's downloads (releases.sh), run by their unit from the end of the releases
    /// step: ~285 MB of release files and a control-plane node's kubeadm images, ~125 MB, at
    /// 9.3 MB/s, the rate of calico/cni's pull in projectcalico/calico#7958 (97.6 MB, its size in
    /// rancher/rke2 issues #8141-8144, in 10.5 s): 44 s, and containerd's start: 50 s. A worker
    /// pulls kube-proxy and pause alone, ~30 MB of the ~125 MB: 40 s (the benchmark's workers are
    /// named worker4, worker5, ...). (The droplet's own limit, 2 Gbps, docs.digitalocean.com
    /// "Droplet limits", is not what bounds it: one connection to a CDN or registry is.) Then
    /// the pod network's images in a unit of their own that nothing waits for: calico/node 156 MB
    /// and calico/cni 98 MB (rke2 issues above) and three small ones at the same rate, ~30 s,
    /// ended long before Calico starts.
    /// </summary>
    public static class Downloads
    {
        public static int Seconds(string node) => node.StartsWith("worker", StringComparison.Ordinal) ? 40 : 50;

        /// <summary>The node whose downloads a node setup step waits for: "node-setup-node1" → "node1".</summary>
        public static string? WaitedForBy(string name) =>
            name.StartsWith("node-setup-", StringComparison.Ordinal) ? name["node-setup-".Length..] : null;
    }

    /// <summary>The modeled seconds of a resource: the first entry whose type (and name part) matches.</summary>
    public static int For(string type, string name)
    {
        foreach (var (match, seconds, _) in Table)
        {
            var parts = match.Split(':');
            var matchType = string.Join(':', parts.Take(parts.Length > 3 ? 3 : parts.Length));
            var namePart = parts.Length > 3 ? parts[3] : "";
            if (type == matchType && (namePart.Length == 0 || name.Contains(namePart, StringComparison.Ordinal)))
            {
                return seconds;
            }
        }
        return 0;
    }
}
