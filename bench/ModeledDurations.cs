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
        // Download of a ~25 MB etcd release and the member's configuration (its certificates in
        // .credentials, its start in .service).
        ("command:remote:Command:etcd-", 25, "etcd member"),
        // Join tokens: one `kubeadm token` call over SSH on a control-plane node (before the
        // control-plane entries: a token step's name starts with its join step's).
        ("command:remote:Command:.token-used", 2, "kubeadm token delete"),
        ("command:remote:Command:.token", 3, "kubeadm token create"),
        // kubeadm init pulls the control-plane images and waits for a healthy API server ("may take a minute or longer", kubeadm docs).
        ("command:remote:Command:control-plane-node1", 90, "kubeadm init"),
        ("command:remote:Command:control-plane-", 75, "kubeadm join --control-plane"),
        // kubeadm/kubelet/kubectl from pkgs.k8s.io (30 s of cloud-init's former 150 s) and the proxy (20 s, nginx now preinstalled by cloud-init).
        ("command:remote:Command:node-setup-", 50, "packages, sandbox image, API proxy"),
        // Beside node-setup, which takes longer: one nft load over SSH, after an apt install of
        // nftables where the image lacks it (an install from the mirror, like one of
        // node-setup's packages). Off the longest path either way.
        ("command:remote:Command:metadata-guard-", 10, "pods kept off the metadata service"),
        // A node's kubelet serving certificate: files over one SSH connection, checked with
        // openssl, like the credentials; before a join, no kubelet to wait for. Off the longest
        // path: beside node-setup.
        ("command:remote:Command:kubelet-serving-", 3, "kubelet serving certificate"),
        // At creation the API servers already use the inventory's etcd members: a check over SSH.
        ("command:remote:Command:apiserver-endpoints-", 3, "nothing to change"),
        ("command:remote:Command:-join", 40, "kubeadm join (TLS bootstrap)"),
        // One kubectl get (and at most one delete) over SSH on the first control-plane node.
        ("command:remote:Command:.stale-node", 3, "stale Node check"),
        // Helm installs that wait for their workloads (Calico: operator, then calico-node on every node).
        ("kubernetes:helm.sh/v3:Release:addons-calico", 90, "Calico ready"),
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
    /// reports active (15 s; the step's dials retry until then), then for cloud-init: apt update,
    /// containerd, nginx (120 s). Both run on the droplet from its boot, not from the step's
    /// start: a step that gets its engine slot late finds them further along, and ends
    /// <see cref="SecondsAfterActive"/> after its droplet became active, or after one SSH
    /// connection and one `cloud-init status --wait` (<see cref="MinimumSeconds"/>) when that is past.
    /// </summary>
    public static class BootWait
    {
        public const int SecondsAfterActive = 135;
        public const int MinimumSeconds = 2;

        /// <summary>The node a step's name says it waits for, or null: "node1.bootstrapped" → "node1".</summary>
        public static string? NodeOf(string name) =>
            name.EndsWith(".bootstrapped", StringComparison.Ordinal) ? name[..^".bootstrapped".Length] : null;
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
