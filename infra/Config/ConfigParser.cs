using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DoK8sHa.Config;

/// <summary>
/// Turns raw stack config values into <see cref="ClusterSettings"/>, collecting every problem
/// so that one run tells the user all that is wrong.
/// </summary>
public static partial class ConfigParser
{
    /// <param name="get">Reads a plain key of the project namespace (null when unset).</param>
    /// <param name="isSet">Tells whether a key, secret or not, is set.</param>
    /// <param name="stack">The stack name, which prefixes every cloud resource.</param>
    /// <param name="warnings">Problems that do not stop the deployment.</param>
    /// <param name="setKeys">Every key set in the project's namespace (null: not known); one the program does not know is refused.</param>
    public static ClusterSettings Parse(Func<string, string?> get, Func<string, bool> isSet, string stack, out IReadOnlyList<string> warnings, IEnumerable<string>? setKeys = null)
    {
        var config = new ConfigReader(get, isSet);
        RefuseUnknownKeys(setKeys, config.ProblemSink, config.WarningSink);
        var cloud = ParseCloud(config);
        var releases = ParseReleases(config);
        var nodes = ParseNodes(config.Raw("nodes"), cloud.Size, config.ProblemSink, config.WarningSink);
        var ssh = ParseSsh(config);
        var network = ParseNetwork(config, nodes);
        var addons = ParseAddons(config);
        var hardening = ParseHardening(get, config.ProblemSink);
        var backups = ParseBackups(get, cloud.Region, config.ProblemSink);
        var lostNodes = ParseLostNodes(get, nodes, config.ProblemSink);
        var legacyPki = LegacyPki.Parse(config.Raw(LegacyPki.Key), config.ProblemSink);

        warnings = config.Warnings;
        if (config.Problems.Count > 0)
        {
            throw new ConfigException(config.Problems);
        }
        var settings = new ClusterSettings
        {
            ClusterName = ClusterNameFor(stack),
            Region = cloud.Region,
            Image = cloud.Image,
            KubernetesVersion = releases.Kubernetes,
            NodeReleases = releases.NodeReleases!,
            EtcdVersion = releases.Etcd,
            EtcdSha256 = releases.EtcdSha256.ToLowerInvariant(),
            Nodes = nodes,
            AdminCidrs = network.AdminCidrs,
            VpcCidr = network.Vpc!,
            PodCidr = network.Pod!,
            ServiceCidr = network.Service!,
            NodeCidrMaskSize = network.NodeCidrMaskSize,
            SshPublicKey = ssh.PublicKey,
            SshUser = ssh.User,
            SshKeyFingerprint = ssh.KeyFingerprint.Length > 0 ? ssh.KeyFingerprint.ToLowerInvariant() : null,
            VpcId = network.VpcId.Length > 0 ? network.VpcId.ToLowerInvariant() : null,
            ApiLoadBalancer = network.ApiLoadBalancer!.Value,
            Addons = addons,
            Hardening = hardening,
            Backups = backups,
            LostNodes = lostNodes,
            LegacyPki = legacyPki,
        };
        WarnOfLostNodes(settings, config.WarningSink);
        return settings;
    }

    private sealed record CloudSection(string Region, string Size, string Image);

    /// <summary>region, size, image.</summary>
    private static CloudSection ParseCloud(ConfigReader config)
    {
        var region = config.Read("region", ConfigDefaults.Region);
        if (!RegionSlug().IsMatch(region))
        {
            config.Problem("region", $"'{region}' is not a DigitalOcean region slug", "use a slug such as lon1, fra1, nyc3 (`doctl compute region list`)");
        }

        var size = config.Read("size", ConfigDefaults.Size);
        if (!SizeSlug().IsMatch(size))
        {
            config.Problem("size", $"'{size}' is not a DigitalOcean droplet size slug", "use a slug such as s-2vcpu-4gb (`doctl compute size list`)");
        }

        var image = config.Read("image", ConfigDefaults.Image);
        if (!ImageSlug().IsMatch(image))
        {
            config.Problem("image", $"'{image}' is not an image slug", "use an Ubuntu LTS slug such as ubuntu-24-04-x64");
        }
        return new CloudSection(region, size, image);
    }

    private sealed record ReleasesSection(KubernetesVersion Kubernetes, NodeReleases? NodeReleases, string Etcd, string EtcdSha256);

    /// <summary>kubernetesVersion, releaseChecksums, etcdVersion, etcdSha256.</summary>
    private static ReleasesSection ParseReleases(ConfigReader config)
    {
        var versionText = config.Read("kubernetesVersion", ConfigDefaults.KubernetesVersion);
        NodeReleases? nodeReleases = null;
        var overrides = ParseReleaseChecksums(config);
        if (!KubernetesVersion.TryParse(versionText, out var version))
        {
            config.Problem("kubernetesVersion", $"'{versionText}' is not a Kubernetes release", $"give MAJOR.MINOR.PATCH without a leading v, e.g. {ConfigDefaults.KubernetesVersion}");
        }
        else
        {
            nodeReleases = JudgeRelease(config, version, overrides);
        }

        var etcdVersion = config.Read("etcdVersion", ConfigDefaults.EtcdVersion);
        var etcdVersionValid = KubernetesVersion.TryParse(etcdVersion, out _);
        if (!etcdVersionValid)
        {
            config.Problem("etcdVersion", $"'{etcdVersion}' is not an etcd release", "give MAJOR.MINOR.PATCH, e.g. 3.6.5");
        }
        // The pinned checksum belongs to the pinned release only: another release needs its own.
        var etcdSha = config.Read("etcdSha256", etcdVersion == ConfigDefaults.EtcdVersion ? ConfigDefaults.EtcdSha256 : "");
        if (etcdVersionValid && !Sha256().IsMatch(etcdSha))
        {
            config.Problem("etcdSha256", etcdSha.Length == 0 ? $"is required when etcdVersion is not {ConfigDefaults.EtcdVersion}" : $"'{etcdSha}' is not a SHA-256 hex digest",
                $"set it to the sha256 of etcd-v{etcdVersion}-linux-amd64.tar.gz from the release's SHA256SUMS");
        }

        if (etcdVersionValid && !Scripts.Render.EtcdReadsAllowedCns(etcdVersion))
        {
            config.Warn($"{ConfigDefaults.Namespace}:etcdVersion {etcdVersion} reads no peer certificate rule from its config file (etcd 3.6 does): any certificate of the etcd CA, the API server's too, is accepted as a peer's. Use {ConfigDefaults.EtcdVersion}.");
        }
        return new ReleasesSection(version, nodeReleases, etcdVersion, etcdSha);
    }

    /// <summary>
    /// A release the checksum table holds, or one the stack gives kubeadm's, kubelet's and kubectl's
    /// checksums for (releaseChecksums) within a minor of the table's newest: nodes download it and
    /// refuse any file whose sha256 differs, so no release is installed unverified.
    /// </summary>
    private static NodeReleases? JudgeRelease(ConfigReader config, KubernetesVersion version, IReadOnlyDictionary<string, string> overrides)
    {
        var (oldestMajor, oldestMinor) = ReleaseTable.Minors[0];
        var newest = ReleaseTable.Newest;
        var supported = string.Join(", ", ReleaseTable.Minors.Select(m => $"{m.Major}.{m.Minor}"));
        if (version.Major != newest.Major || version.Minor < oldestMinor || version.Minor > newest.Minor + 1)
        {
            config.Problem("kubernetesVersion", $"{version} is outside the supported minors ({supported}: upstream's three newest, the checksum table's)",
                $"use {newest} (the newest in the table) or another release of {supported}; a cluster on an older minor upgrades one minor per update");
            return null;
        }
        var releases = ReleaseTable.For(version, overrides);
        if (releases is null)
        {
            var missing = ReleaseTable.KubernetesBinaries.Where(b => !overrides.ContainsKey(b)).ToList();
            config.Problem("kubernetesVersion", $"{version} is not in the checksum table ({ReleaseTable.Versions[0]} to {newest}), and releaseChecksums gives no checksum of {string.Join(", ", missing)}",
                $"use {newest} (the newest in the table) or another of its releases, or give each file's sha256 from dl.k8s.io/release/v{version}/bin/linux/amd64/<file>.sha256: pulumi config set --path 'releaseChecksums.{missing[0]}' <sha256>");
            return null;
        }
        foreach (var (name, sha) in overrides)
        {
            var file = releases[name];
            if (ReleaseTable.TableSha256(name, file.Version) is { } table && table != sha)
            {
                config.Warn($"{ConfigDefaults.Namespace}:releaseChecksums.{name}: {sha} is not the checksum table's for {name} {file.Version} ({table}); nodes take only a file with yours. Remove it to use the table's: pulumi config rm --path releaseChecksums.{name}");
            }
        }
        if (!ReleaseTable.Holds(version))
        {
            config.Warn($"{ConfigDefaults.Namespace}:kubernetesVersion {version} is not in the checksum table: its files are verified by releaseChecksums alone, and its nodes run the container runtime of {newest.Major}.{newest.Minor}.");
        }
        return releases;
    }

    /// <summary>releaseChecksums: {file: sha256} for the files of the pinned releases, e.g. {kubeadm: …}.</summary>
    private static Dictionary<string, string> ParseReleaseChecksums(ConfigReader config)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var json = config.Raw("releaseChecksums");
        if (string.IsNullOrWhiteSpace(json))
        {
            return result;
        }
        var names = ReleaseTable.KubernetesBinaries.Concat(ReleaseTable.RuntimeFiles).ToList();
        var fix = $"give an object of file names ({string.Join(", ", names)}) to sha256 digests, e.g. pulumi config set --path releaseChecksums.kubeadm <sha256>";
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                config.Problem("releaseChecksums", "is not an object", fix);
                return result;
            }
            foreach (var item in doc.RootElement.EnumerateObject())
            {
                var sha = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()!.Trim().ToLowerInvariant() : "";
                if (!names.Contains(item.Name))
                {
                    config.Problem($"releaseChecksums.{item.Name}", "names no file a node downloads", fix);
                }
                else if (!Sha256().IsMatch(sha))
                {
                    config.Problem($"releaseChecksums.{item.Name}", $"'{item.Value}' is not a SHA-256 hex digest", fix);
                }
                else
                {
                    result[item.Name] = sha;
                }
            }
        }
        catch (JsonException)
        {
            config.Problem("releaseChecksums", "is not JSON", fix);
        }
        return result;
    }

    private sealed record SshSection(string User, string PublicKey, string KeyFingerprint);

    /// <summary>sshUser, sshPublicKey, sshKeyFingerprint, sshPrivateKey.</summary>
    private static SshSection ParseSsh(ConfigReader config)
    {
        var sshUser = config.Read("sshUser", ConfigDefaults.SshUser);
        if (!UserName().IsMatch(sshUser))
        {
            config.Problem("sshUser", $"'{sshUser}' is not a Unix user name", "use root (DigitalOcean's Ubuntu images) or a user with passwordless sudo");
        }

        var publicKey = config.Optional("sshPublicKey");
        if (publicKey.Length == 0)
        {
            config.Problem("sshPublicKey", "is missing", "pulumi config set sshPublicKey \"$(cat ~/.ssh/id_ed25519.pub)\"");
        }
        else if (!PublicKey().IsMatch(publicKey))
        {
            config.Problem("sshPublicKey", "is not an OpenSSH public key", "give the one line of ~/.ssh/id_ed25519.pub (ssh-ed25519 AAAA…)");
        }
        // DigitalOcean refuses a second copy of a key already in the account (422 "SSH Key is
        // already in use"): a fingerprint names the existing key instead of uploading it.
        var sshKeyFingerprint = config.Optional("sshKeyFingerprint");
        if (sshKeyFingerprint.Length > 0 && !Md5Fingerprint().IsMatch(sshKeyFingerprint))
        {
            config.Problem("sshKeyFingerprint", $"'{sshKeyFingerprint}' is not an MD5 key fingerprint", "pulumi config set sshKeyFingerprint \"$(ssh-keygen -l -E md5 -f ~/.ssh/id_ed25519.pub | awk '{print $2}' | cut -d: -f2-)\" (aa:bb:…, 16 pairs), or unset it to upload sshPublicKey");
        }
        if (!config.IsSet("sshPrivateKey"))
        {
            config.Problem("sshPrivateKey", "is missing", "cat ~/.ssh/id_ed25519 | pulumi config set sshPrivateKey --secret");
        }
        return new SshSection(sshUser, publicKey, sshKeyFingerprint);
    }

    private sealed record NetworkSection(List<Cidr> AdminCidrs, string VpcId, Cidr? Vpc, Cidr? Pod, Cidr? Service, int NodeCidrMaskSize, ApiLoadBalancerMode? ApiLoadBalancer);

    /// <summary>vpcId, adminCidrs, vpcCidr, podCidr, serviceCidr, nodeCidrMaskSize, apiLoadBalancer: judged against the nodes.</summary>
    private static NetworkSection ParseNetwork(ConfigReader config, IReadOnlyList<NodeSpec> nodes)
    {
        var vpcId = config.Optional("vpcId");
        if (vpcId.Length > 0 && !Uuid().IsMatch(vpcId))
        {
            config.Problem("vpcId", $"'{vpcId}' is not a VPC id", "give the VPC's UUID (`doctl vpcs list`), or unset it to create a VPC");
        }

        var adminCidrs = ParseAdminCidrs(config.Raw("adminCidrs"), config.ProblemSink);
        if (adminCidrs.Any(c => c.PrefixLength == 0))
        {
            config.Warn($"{ConfigDefaults.Namespace}:adminCidrs lets the whole internet reach SSH and the API server port; narrow it with `pulumi config set --path 'adminCidrs[0]' <your-ip>/32`.");
        }

        var vpc = ParseCidr("vpcCidr", config.Read("vpcCidr", ConfigDefaults.VpcCidr), config.ProblemSink);
        if (vpc is not null && (!vpc.IsRfc1918 || vpc.PrefixLength is < 16 or > 24))
        {
            config.Problem("vpcCidr", $"{vpc} is not a DigitalOcean VPC range", "use an RFC 1918 network from /16 to /24, e.g. 10.240.0.0/20, unused in your account");
        }
        var pod = ParseCidr("podCidr", config.Read("podCidr", ConfigDefaults.PodCidr), config.ProblemSink);
        var service = ParseCidr("serviceCidr", config.Read("serviceCidr", ConfigDefaults.ServiceCidr), config.ProblemSink);
        foreach (var (a, an, b, bn) in new[] { (vpc, "vpcCidr", pod, "podCidr"), (vpc, "vpcCidr", service, "serviceCidr"), (pod, "podCidr", service, "serviceCidr") })
        {
            if (a is not null && b is not null && a.Overlaps(b))
            {
                config.Problem(bn, $"{b} overlaps {an} {a}", $"pick ranges that do not overlap (defaults: vpcCidr {ConfigDefaults.VpcCidr}, podCidr {ConfigDefaults.PodCidr}, serviceCidr {ConfigDefaults.ServiceCidr})");
            }
        }
        foreach (var (c, key, example) in new[] { (pod, "podCidr", ConfigDefaults.PodCidr), (service, "serviceCidr", ConfigDefaults.ServiceCidr) })
        {
            if (c is not null && c.Family != AddressFamily.InterNetwork)
            {
                config.Problem(key, $"{c} is not an IPv4 network", "use an IPv4 range; the cluster is single-stack IPv4");
            }
            // Loopback, link-local (the metadata service, NodeLocal DNS), multicast or public
            // addresses would route pods and Services at what is not theirs.
            else if (c is not null && !c.IsRfc1918)
            {
                config.Problem(key, $"{c} is not a private range", $"use an RFC 1918 range outside vpcCidr, e.g. {example}");
            }
        }
        // The cluster DNS Service takes the range's 10th address (ClusterAddons: kube-dns).
        if (service is not null && service.Family == AddressFamily.InterNetwork && service.PrefixLength > 28)
        {
            config.Problem("serviceCidr", $"{service} has no room for the cluster DNS address (its 10th)", $"use a /24 or larger, e.g. {ConfigDefaults.ServiceCidr}");
        }
        var maskText = config.Read("nodeCidrMaskSize", ConfigDefaults.NodeCidrMaskSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!int.TryParse(maskText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var nodeMask) || nodeMask is < 16 or > 28)
        {
            config.Problem("nodeCidrMaskSize", $"'{maskText}' is not a prefix length from 16 to 28", $"use {ConfigDefaults.NodeCidrMaskSize} (a /24 of podCidr per node) or 25 for twice the nodes");
        }
        else if (pod is not null && pod.Family == AddressFamily.InterNetwork)
        {
            // kube-controller-manager hands each node one range of this size; a node past the last gets none.
            var kubernetesNodes = nodes.Count(n => n.IsKubernetesNode);
            var ranges = nodeMask <= pod.PrefixLength ? 0 : 1L << Math.Min(nodeMask - pod.PrefixLength, 32);
            if (ranges < kubernetesNodes)
            {
                config.Problem("nodeCidrMaskSize", $"podCidr {pod} holds {ranges} ranges of /{nodeMask}, fewer than the {kubernetesNodes} Kubernetes nodes", $"use a larger podCidr (e.g. a /16) or a larger nodeCidrMaskSize (e.g. {nodeMask + 1}, half the pods per node)");
            }
        }
        if (vpc is not null && (1L << (32 - vpc.PrefixLength)) - 2 < nodes.Count)
        {
            config.Problem("vpcCidr", $"{vpc} has too few addresses for {nodes.Count} nodes", "use a larger range, e.g. a /20");
        }

        var lbText = config.Read("apiLoadBalancer", ConfigDefaults.ApiLoadBalancer);
        var lb = lbText switch
        {
            "digitalocean" => ApiLoadBalancerMode.DigitalOcean,
            "none" => ApiLoadBalancerMode.None,
            _ => (ApiLoadBalancerMode?)null,
        };
        if (lb is null)
        {
            config.Problem("apiLoadBalancer", $"'{lbText}' is not a load-balancer mode", "use digitalocean (highly available) or none (the kubeconfig points at the first control-plane node)");
        }
        else if (lb == ApiLoadBalancerMode.None && nodes.Count(n => n.IsControlPlane) > 1)
        {
            config.Warn($"{ConfigDefaults.Namespace}:apiLoadBalancer is none: the exported kubeconfig points at one control-plane node and stops working when that node is down.");
        }
        return new NetworkSection(adminCidrs, vpcId, vpc, pod, service, nodeMask, lb);
    }

    /// <summary>Every add-on's flag and pinned version.</summary>
    private static AddonSettings ParseAddons(ConfigReader config)
    {
        string Version(string key, string fallback)
        {
            var value = config.Read(key, fallback);
            if (!ChartVersion().IsMatch(value))
            {
                config.Problem(key, $"'{value}' is not a version", $"give a release such as {fallback}");
            }
            return value;
        }
        bool Flag(string key, bool fallback)
        {
            var value = config.Read(key, fallback ? "true" : "false");
            if (value is not ("true" or "false"))
            {
                config.Problem(key, $"'{value}' is not true or false", $"pulumi config set {key} {(fallback ? "false" : "true")}");
            }
            return value == "true";
        }
        return new AddonSettings(
            Version("calicoVersion", ConfigDefaults.CalicoVersion),
            Version("metricsServerVersion", ConfigDefaults.MetricsServerVersion),
            Flag("dashboard", fallback: false),
            Version("dashboardVersion", ConfigDefaults.DashboardVersion),
            Flag("nodeLocalDns", ConfigDefaults.NodeLocalDns),
            Version("nodeLocalDnsVersion", ConfigDefaults.NodeLocalDnsVersion),
            Flag("dnsAutoscaler", ConfigDefaults.DnsAutoscaler),
            Version("dnsAutoscalerVersion", ConfigDefaults.DnsAutoscalerVersion));
    }

    /// <summary>
    /// The DNS-label-safe name a cluster made by a release before unique names got from its stack:
    /// two stacks whose names normalise alike (Dev, dev, dev_) got the same one.
    /// </summary>
    public static string ClusterNameFor(string stack)
    {
        var cleaned = NotDnsLabel().Replace(stack.ToLowerInvariant(), "-").Trim('-');
        var name = $"k8s-{(cleaned.Length == 0 ? "stack" : cleaned)}";
        return name[..Math.Min(name.Length, 40)].TrimEnd('-');
    }

    /// <summary>
    /// A new cluster's name: the stack's, then six hex digits of its fully qualified name
    /// (organization/project/stack), so no two stacks' tags, firewalls and load balancers ever
    /// target each other's droplets, whatever their names normalise to.
    /// </summary>
    public static string UniqueClusterNameFor(string organization, string project, string stack)
    {
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{organization}/{project}/{stack}")))[..6].ToLowerInvariant();
        var name = ClusterNameFor(stack);
        return $"{name[..Math.Min(name.Length, 33)].TrimEnd('-')}-{hash}";
    }

    private static List<NodeSpec> ParseNodes(string? json, string defaultSize, Action<string, string, string> problem, List<string> warnings)
    {
        const string shape = "set a list such as [{\"name\": \"node1\", \"roles\": [\"control-plane\", \"etcd\"]}] with `pulumi config set --path 'nodes[0].name' node1` or in Pulumi.<stack>.yaml";
        var nodes = new List<NodeSpec>();
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? ConfigDefaults.NodesJson : json);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            problem("nodes", $"is not valid structured config ({e.Message})", shape);
            return nodes;
        }
        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
        {
            problem("nodes", "must be a non-empty list of nodes", shape);
            return nodes;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var entry in root.EnumerateArray())
        {
            var at = $"nodes[{index++}]";
            if (entry.ValueKind != JsonValueKind.Object)
            {
                problem(at, "is not an object with name and roles", shape);
                continue;
            }
            foreach (var property in entry.EnumerateObject())
            {
                if (property.Name is not ("name" or "roles" or "size"))
                {
                    problem($"{at}.{property.Name}", "is not a node field", "use only name, roles and size");
                }
            }

            var name = entry.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            if (name.Length == 0)
            {
                problem($"{at}.name", "is missing", "give every node a name such as node1");
            }
            else if (!DnsLabel().IsMatch(name))
            {
                problem($"{at}.name", $"'{name}' is not a DNS label", "use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit");
            }
            else if (name == "localhost")
            {
                // The node's own name resolves to the node; "localhost" resolves to every node itself.
                problem($"{at}.name", "'localhost' names this machine on every node", "choose another name, e.g. node1");
            }
            else if (!seen.Add(name))
            {
                problem($"{at}.name", $"'{name}' is used by more than one node", "give every node its own name");
            }

            var roles = NodeRoles.None;
            if (!entry.TryGetProperty("roles", out var r) || r.ValueKind != JsonValueKind.Array || r.GetArrayLength() == 0)
            {
                problem($"{at}.roles", "is missing or empty", "list one or more of control-plane, etcd, worker");
            }
            else
            {
                foreach (var role in r.EnumerateArray())
                {
                    // A JSON string's text, or a number's or literal's: JsonElement.ToString gives either.
                    var roleName = role.ToString();
                    if (RoleNaming.ByName.TryGetValue(roleName, out var flag))
                    {
                        roles |= flag;
                    }
                    else
                    {
                        problem($"{at}.roles", $"'{roleName}' is not a role", "use control-plane, etcd or worker");
                    }
                }
            }

            var nodeSize = defaultSize;
            if (entry.TryGetProperty("size", out var s))
            {
                nodeSize = s.ToString().Trim();
                if (!SizeSlug().IsMatch(nodeSize))
                {
                    problem($"{at}.size", $"'{nodeSize}' is not a DigitalOcean droplet size slug", "use a slug such as s-4vcpu-8gb, or leave it out to use size");
                }
            }
            nodes.Add(new NodeSpec(name, roles, nodeSize));
        }

        if (!nodes.Any(x => x.IsControlPlane))
        {
            problem("nodes", "has no control-plane node", "give at least one node the role control-plane (three for high availability)");
        }
        if (!nodes.Any(x => x.IsWorker))
        {
            problem("nodes", "has no schedulable node: no node has the role worker", "add the role worker to at least one node");
        }
        var etcd = nodes.Count(x => x.IsEtcd);
        if (etcd == 0)
        {
            problem("nodes", "has no etcd node", "give the role etcd to an odd number of nodes (3 or 5)");
        }
        else if (etcd % 2 == 0)
        {
            // Allowed on the way between odd counts: etcd takes new members one at a time.
            warnings.Add($"{ConfigDefaults.Namespace}:nodes has {etcd} etcd nodes: an even count tolerates no more failures than {etcd - 1}. Fine on the way from {etcd - 1} to {etcd + 1}; give the role etcd to one more node next.");
        }
        else if (etcd == 1)
        {
            warnings.Add($"{ConfigDefaults.Namespace}:nodes has a single etcd node: losing it loses the cluster. Use 3 etcd nodes for high availability.");
        }
        return nodes;
    }

    /// <summary>
    /// A list in the stack file, or one string of comma-separated networks: `pulumi new` answers
    /// its prompt with a plain string (pulumi pkg/cmd/pulumi/project/newcmd/config.go), which is
    /// why Pulumi.yaml gives this key no type (an "array" would refuse the string).
    /// </summary>
    private static List<Cidr> ParseAdminCidrs(string? value, Action<string, string, string> problem)
    {
        const string fix = "set a list of CIDRs, e.g. `pulumi config set --path 'adminCidrs[0]' 203.0.113.7/32`, or `pulumi config set adminCidrs 203.0.113.7/32,198.51.100.0/24`";
        if (string.IsNullOrWhiteSpace(value))
        {
            // No open default: the firewall and the API load balancer admit exactly these networks.
            problem("adminCidrs", "is missing: nobody may reach SSH and the API until you say who", "pulumi config set --path 'adminCidrs[0]' \"$(curl -s https://ifconfig.me)/32\" (an explicit 0.0.0.0/0 is accepted, with a warning)");
            return [];
        }
        List<string> items;
        if (value.TrimStart() is ['[' or '{', ..])
        {
            try
            {
                using var doc = JsonDocument.Parse(value);
                if (doc.RootElement.ValueKind != JsonValueKind.Array)
                {
                    problem("adminCidrs", "is not a list", fix);
                    return [];
                }
                // A string's text; a number's or literal's (null: empty), to be named as not a CIDR.
                items = [.. doc.RootElement.EnumerateArray().Select(item => item.ToString())];
            }
            catch (JsonException)
            {
                problem("adminCidrs", "is not a list", fix);
                return [];
            }
        }
        else
        {
            items = [.. value.Split(',').Select(item => item.Trim())];
        }
        if (items.Count == 0)
        {
            problem("adminCidrs", "must be a non-empty list", fix);
            return [];
        }
        var result = new List<Cidr>();
        for (var i = 0; i < items.Count; i++)
        {
            if (Cidr.TryParse(items[i], out var cidr))
            {
                result.Add(cidr);
            }
            else
            {
                problem($"adminCidrs[{i}]", $"'{items[i]}' is not a CIDR network (host bits must be zero)", "write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32");
            }
        }
        return result;
    }

    /// <summary>
    /// A key the program does not read (a typo of a hardening key, say) would leave its setting at
    /// the default unnoticed: refused, naming the known key closest to it.
    /// </summary>
    private static void RefuseUnknownKeys(IEnumerable<string>? setKeys, Action<string, string, string> problem, List<string> warnings)
    {
        if (setKeys is null)
        {
            return;
        }
        var known = ConfigDefaults.Keys.Select(k => k.Name).ToList();
        foreach (var key in setKeys.Where(k => !known.Contains(k)).Order(StringComparer.Ordinal))
        {
            if (RetiredKeys.TryGetValue(key, out var why))
            {
                warnings.Add($"{ConfigDefaults.Namespace}:{key} is no longer read: {why}. Remove it: `pulumi config rm {key}`.");
                continue;
            }
            var closest = known.MinBy(k => EditDistance(key.ToLowerInvariant(), k.ToLowerInvariant()))!;
            problem(key, "is not a key of this program", $"did you mean {closest}? `pulumi config rm {key}`, then set {closest} (every key: docs/configuration.md)");
        }
    }

    /// <summary>Keys an earlier release read: a stack that still sets one is warned, not refused.</summary>
    public static readonly IReadOnlyDictionary<string, string> RetiredKeys = new Dictionary<string, string>
    {
        ["kubeletCsrApproverVersion"] = "no approver runs; the program signs each kubelet's serving certificate for that node alone (docs/hardening.md)",
    };

    /// <summary>The keys set in the project's namespace, from the config the language host hands the program (PULUMI_CONFIG: a JSON object of "namespace:key" names).</summary>
    public static IReadOnlyList<string> KeysSet(string? pulumiConfigJson, string ns)
    {
        if (string.IsNullOrEmpty(pulumiConfigJson))
        {
            return [];
        }
        using var document = JsonDocument.Parse(pulumiConfigJson);
        return [.. document.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n.StartsWith(ns + ":", StringComparison.Ordinal)).Select(n => n[(ns.Length + 1)..])];
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            previous = current;
        }
        return previous[b.Length];
    }

    private static Cidr? ParseCidr(string key, string text, Action<string, string, string> problem)
    {
        if (Cidr.TryParse(text, out var cidr))
        {
            return cidr;
        }
        problem(key, $"'{text}' is not a CIDR network (host bits must be zero)", "write it as NETWORK/PREFIX, e.g. 10.240.0.0/20");
        return null;
    }

    [GeneratedRegex(@"\Av?[0-9]+\.[0-9]+\.[0-9]+\z")]
    private static partial Regex ChartVersion();

    [GeneratedRegex("\\A[a-z]{3}[0-9]\\z")]
    private static partial Regex RegionSlug();

    [GeneratedRegex("\\A[a-z0-9]+(-[a-z0-9]+)+\\z")]
    private static partial Regex SizeSlug();

    [GeneratedRegex("\\A[a-z0-9][a-z0-9.-]*[a-z0-9]\\z")]
    private static partial Regex ImageSlug();

    [GeneratedRegex("\\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\z")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("[^a-z0-9-]+")]
    private static partial Regex NotDnsLabel();

    [GeneratedRegex(@"\A([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2}\z")]
    private static partial Regex Md5Fingerprint();

    [GeneratedRegex(@"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\z")]
    private static partial Regex Uuid();

    [GeneratedRegex("\\A[a-fA-F0-9]{64}\\z")]
    private static partial Regex Sha256();

    [GeneratedRegex("\\A[a-z_][a-z0-9_-]{0,31}\\z")]
    private static partial Regex UserName();

    [GeneratedRegex(@"\A(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( .*)?\z")]
    private static partial Regex PublicKey();
}
