using DoK8sHa.Config;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>Every validation rule of the stack config: each bad value is named, with its fix.</summary>
public class ConfigParserTests
{
    private const string PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq6dummykeydummykeydummykeydummykeydummykey user@host";

    internal static Dictionary<string, string> Valid() => new()
    {
        ["sshPublicKey"] = PublicKey,
        ["sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----",
        ["adminCidrs"] = """["203.0.113.7/32"]""",
    };

    internal static ClusterSettings Parse(Dictionary<string, string> values, out IReadOnlyList<string> warnings) =>
        ConfigParser.Parse(k => values.GetValueOrDefault(k), values.ContainsKey, "dev", out warnings, values.Keys);

    /// <summary>A key the program does not read is refused before anything, with the known key closest to it.</summary>
    [TestCase("podSecurityEnforcee", "podSecurityEnforce")]
    [TestCase("adminCidr", "adminCidrs")]
    [TestCase("kubernetesversion", "kubernetesVersion")]
    [TestCase("auditLogMaxAge", "auditLogMaxAgeDays")]
    public void AnUnknownKeyIsRefusedNamingTheClosestKnownOne(string typo, string closest)
    {
        var error = Fails(With(typo, "x"));

        Assert.That(error.Problems, Has.Some.EqualTo($"do-k8s-ha:{typo}: is not a key of this program. Fix: did you mean {closest}? `pulumi config rm {typo}`, then set {closest} (every key: docs/configuration.md)"));
    }

    // A stack that pinned the approver an earlier release ran keeps working: the key is warned
    // about with its removal, not refused (the CLI reads only the keys Pulumi.yaml declares:
    // pulumi pkg/workspace/config.go, mergeConfig).
    [Test]
    public void ARetiredKeyIsWarnedAboutNotRefused()
    {
        var values = Valid();
        values["kubeletCsrApproverVersion"] = "1.2.14";

        Parse(values, out var warnings);

        Assert.That(warnings, Has.Some.EqualTo("do-k8s-ha:kubeletCsrApproverVersion is no longer read: no approver runs; the program signs each kubelet's serving certificate for that node alone (docs/hardening.md). Remove it: `pulumi config rm kubeletCsrApproverVersion`."));
        Assert.That(ConfigDefaults.Keys.Select(k => k.Name), Does.Not.Contain("kubeletCsrApproverVersion"), "no longer declared");
    }

    [Test]
    public void TheProgramRefusesAnUnknownKeyBeforeAnyResource()
    {
        var config = StackRun.StackConfig("dev");
        config["do-k8s-ha:podSecurityEnforcee"] = "restricted";
        var mocks = new ClusterMocks();

        var message = StackRun.FailureOf(() => StackRun.RunAsync("dev", config, mocks));

        Assert.That(message, Does.Contain("do-k8s-ha:podSecurityEnforcee: is not a key of this program. Fix: did you mean podSecurityEnforce?").And.Contain("nothing was created or changed"));
        Assert.That(mocks.Resources, Is.Empty);
    }

    [Test]
    public void TheKeysSetAreReadFromTheConfigTheLanguageHostHandsOver() =>
        Assert.That(ConfigParser.KeysSet("""{"do-k8s-ha:nodes":"[]","do-k8s-ha:adminCidr":"x","digitalocean:token":"t","other:do-k8s-ha":"y"}""", "do-k8s-ha"),
            Is.EqualTo(new[] { "nodes", "adminCidr" }));

    internal static ConfigException Fails(Dictionary<string, string> values) =>
        Assert.Throws<ConfigException>(() => Parse(values, out _))!;

    private static Dictionary<string, string> With(string key, string value)
    {
        var values = Valid();
        values[key] = value;
        return values;
    }

    [Test]
    public void DefaultsGiveTheSeedTopology()
    {
        var settings = Parse(Valid(), out var warnings);

        Assert.That(settings.Nodes.Select(n => (n.Name, string.Join(",", n.RoleNames))), Is.EqualTo(new[]
        {
            ("node1", "control-plane,etcd"),
            ("node2", "control-plane,etcd,worker"),
            ("node3", "etcd,worker"),
        }));
        Assert.That(settings.Region, Is.EqualTo("lon1"));
        Assert.That(settings.Nodes.Select(n => n.Size), Is.All.EqualTo("s-2vcpu-4gb"));
        Assert.That(settings.ClusterName, Is.EqualTo("k8s-dev"));
        Assert.That(settings.InitNode.Name, Is.EqualTo("node1"));
        Assert.That(settings.ApiLoadBalancer, Is.EqualTo(ApiLoadBalancerMode.DigitalOcean));
        Assert.That(warnings, Is.Empty);
    }

    [Test]
    public void NodeSizeOverridesTheDefaultSize()
    {
        var settings = Parse(With("nodes", """[{"name":"a","roles":["control-plane","etcd","worker"],"size":"s-4vcpu-8gb"}]"""), out _);
        Assert.That(settings.Nodes.Single().Size, Is.EqualTo("s-4vcpu-8gb"));
    }

    [TestCase("""[{"name":"a","roles":["etcd","worker"]}]""", "nodes: has no control-plane node. Fix: give at least one node the role control-plane (three for high availability)")]
    [TestCase("""[{"name":"a","roles":["control-plane","etcd"]}]""", "nodes: has no schedulable node: no node has the role worker. Fix: add the role worker to at least one node")]
    [TestCase("""[{"name":"a","roles":["control-plane","worker"]}]""", "nodes: has no etcd node. Fix: give the role etcd to an odd number of nodes (3 or 5)")]
    [TestCase("""[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"a","roles":["worker"]}]""", "nodes[1].name: 'a' is used by more than one node. Fix: give every node its own name")]
    [TestCase("""[{"name":"Node_1","roles":["control-plane","etcd","worker"]}]""", "nodes[0].name: 'Node_1' is not a DNS label. Fix: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit")]
    [TestCase("""[{"roles":["control-plane","etcd","worker"]}]""", "nodes[0].name: is missing. Fix: give every node a name such as node1")]
    [TestCase("""[{"name":"a","roles":["control-plane","etcd","worker","master"]}]""", "nodes[0].roles: 'master' is not a role. Fix: use control-plane, etcd or worker")]
    [TestCase("""[{"name":"a","roles":[]}]""", "nodes[0].roles: is missing or empty. Fix: list one or more of control-plane, etcd, worker")]
    [TestCase("""[{"name":"a","role":["worker"],"roles":["control-plane","etcd","worker"]}]""", "nodes[0].role: is not a node field. Fix: use only name, roles and size")]
    [TestCase("""[{"name":"a","roles":["control-plane","etcd","worker"],"size":"huge"}]""", "nodes[0].size: 'huge' is not a DigitalOcean droplet size slug. Fix: use a slug such as s-4vcpu-8gb, or leave it out to use size")]
    [TestCase("""{"name":"a"}""", """nodes: must be a non-empty list of nodes. Fix: set a list such as [{"name": "node1", "roles": ["control-plane", "etcd"]}] with `pulumi config set --path 'nodes[0].name' node1` or in Pulumi.<stack>.yaml""")]
    [TestCase("""[]""", """nodes: must be a non-empty list of nodes. Fix: set a list such as [{"name": "node1", "roles": ["control-plane", "etcd"]}] with `pulumi config set --path 'nodes[0].name' node1` or in Pulumi.<stack>.yaml""")]
    public void BadInventoryIsNamed(string nodes, string expected)
    {
        var error = Fails(With("nodes", nodes));
        Assert.That(error.Problems, Has.Some.EqualTo($"do-k8s-ha:{expected}"), error.Message);
    }

    [Test]
    public void AnInventoryThatIsNotStructuredConfigIsNamedWithTheParsersReason()
    {
        var problem = Fails(With("nodes", "not json")).Problems.Single();
        Assert.That(problem, Does.StartWith("do-k8s-ha:nodes: is not valid structured config ('not json' is an invalid JSON literal"));
        Assert.That(problem, Does.EndWith(""". Fix: set a list such as [{"name": "node1", "roles": ["control-plane", "etcd"]}] with `pulumi config set --path 'nodes[0].name' node1` or in Pulumi.<stack>.yaml"""));
    }

    [Test]
    public void AnEvenEtcdCountIsAllowedWithAWarningAsAStepBetweenOddOnes()
    {
        Parse(With("nodes", """[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"b","roles":["etcd"]}]"""), out var warnings);
        Assert.That(warnings, Is.EqualTo(new[] { "do-k8s-ha:nodes has 2 etcd nodes: an even count tolerates no more failures than 1. Fine on the way from 1 to 3; give the role etcd to one more node next." }));
        Parse(With("nodes", """[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"b","roles":["etcd"]},{"name":"c","roles":["etcd"]},{"name":"d","roles":["etcd"]}]"""), out var four);
        Assert.That(four, Is.EqualTo(new[] { "do-k8s-ha:nodes has 4 etcd nodes: an even count tolerates no more failures than 3. Fine on the way from 3 to 5; give the role etcd to one more node next." }));
    }

    [Test]
    public void AnEtcdReleaseThatCannotRestrictPeersIsWarnedAbout()
    {
        var values = With("etcdVersion", "3.5.21");
        values["etcdSha256"] = new string('a', 64);
        Parse(values, out var warnings);
        Assert.That(warnings, Is.EqualTo(new[] { "do-k8s-ha:etcdVersion 3.5.21 reads no peer certificate rule from its config file (etcd 3.6 does): any certificate of the etcd CA, the API server's too, is accepted as a peer's. Use 3.6.5." }));
        Parse(With("etcdVersion", ConfigDefaults.EtcdVersion), out var current);
        Assert.That(current, Has.None.Contains("peer certificate rule"));
    }

    [Test]
    public void OneEtcdNodeIsAllowedWithAWarning()
    {
        Parse(With("nodes", """[{"name":"a","roles":["control-plane","etcd","worker"]}]"""), out var warnings);
        Assert.That(warnings, Is.EqualTo(new[] { "do-k8s-ha:nodes has a single etcd node: losing it loses the cluster. Use 3 etcd nodes for high availability." }));
    }

    [TestCase("region", "London", "region: 'London' is not a DigitalOcean region slug. Fix: use a slug such as lon1, fra1, nyc3 (`doctl compute region list`)")]
    [TestCase("size", "2cpu", "size: '2cpu' is not a DigitalOcean droplet size slug. Fix: use a slug such as s-2vcpu-4gb (`doctl compute size list`)")]
    [TestCase("image", "Ubuntu 24.04", "image: 'Ubuntu 24.04' is not an image slug. Fix: use an Ubuntu LTS slug such as ubuntu-24-04-x64")]
    [TestCase("kubernetesVersion", "v1.35.1", "kubernetesVersion: 'v1.35.1' is not a Kubernetes release. Fix: give MAJOR.MINOR.PATCH without a leading v, e.g. 1.37.1")]
    [TestCase("kubernetesVersion", "1.35", "kubernetesVersion: '1.35' is not a Kubernetes release. Fix: give MAJOR.MINOR.PATCH without a leading v, e.g. 1.37.1")]
    [TestCase("kubernetesVersion", "1.31.4", "kubernetesVersion: 1.31.4 is outside the supported minors (1.35, 1.36, 1.37: upstream's three newest, the checksum table's). Fix: use 1.37.1 (the newest in the table) or another release of 1.35, 1.36, 1.37; a cluster on an older minor upgrades one minor per update")]
    [TestCase("podSecurityEnforce", "strict", "podSecurityEnforce: 'strict' is not a Pod Security level. Fix: use one of privileged, baseline, restricted (default baseline)")]
    [TestCase("podSecurityWarn", "Restricted", "podSecurityWarn: 'Restricted' is not a Pod Security level. Fix: use one of privileged, baseline, restricted (default restricted)")]
    [TestCase("podSecurityExemptNamespaces", """["kube_system"]""", "podSecurityExemptNamespaces[0]: 'kube_system' is not a namespace name. Fix: use lower-case letters, digits and '-'")]
    [TestCase("auditLogMaxAgeDays", "0", "auditLogMaxAgeDays: '0' is not a number of days from 1 to 3650. Fix: pulumi config set auditLogMaxAgeDays 30")]
    [TestCase("auditLogMaxSizeMb", "1e3", "auditLogMaxSizeMb: '1e3' is not a number of megabytes from 1 to 10240. Fix: pulumi config set auditLogMaxSizeMb 100")]
    [TestCase("secretsEncryptionKeys", "[]", "secretsEncryptionKeys: is empty. Fix: set a list, e.g. `pulumi config set --path 'secretsEncryptionKeys[0]' key1`")]
    [TestCase("secretsEncryptionKeys", """["key1","key1"]""", "secretsEncryptionKeys[1]: 'key1' is listed twice. Fix: list each once")]
    [TestCase("secretsEncryptionKeys", "key1", "secretsEncryptionKeys: is not a list. Fix: set a list, e.g. `pulumi config set --path 'secretsEncryptionKeys[0]' key1`")]
    [TestCase("etcdVersion", "3.6", "etcdVersion: '3.6' is not an etcd release. Fix: give MAJOR.MINOR.PATCH, e.g. 3.6.5")]
    [TestCase("etcdVersion", "3.6.6", "etcdSha256: is required when etcdVersion is not 3.6.5. Fix: set it to the sha256 of etcd-v3.6.6-linux-amd64.tar.gz from the release's SHA256SUMS")]
    [TestCase("etcdSha256", "abc", "etcdSha256: 'abc' is not a SHA-256 hex digest. Fix: set it to the sha256 of etcd-v3.6.5-linux-amd64.tar.gz from the release's SHA256SUMS")]
    [TestCase("sshPublicKey", "not a key", "sshPublicKey: is not an OpenSSH public key. Fix: give the one line of ~/.ssh/id_ed25519.pub (ssh-ed25519 AAAA…)")]
    [TestCase("sshUser", "Root User", "sshUser: 'Root User' is not a Unix user name. Fix: use root (DigitalOcean's Ubuntu images) or a user with passwordless sudo")]
    [TestCase("adminCidrs", """["203.0.113.7"]""", "adminCidrs[0]: '203.0.113.7' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("adminCidrs", """["203.0.113.7/24"]""", "adminCidrs[0]: '203.0.113.7/24' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("adminCidrs", """[]""", "adminCidrs: must be a non-empty list. Fix: set a list of CIDRs, e.g. `pulumi config set --path 'adminCidrs[0]' 203.0.113.7/32`, or `pulumi config set adminCidrs 203.0.113.7/32,198.51.100.0/24`")]
    // Issue 30: what .NET's address parser reads otherwise (inet_aton's octal and hex octets).
    [TestCase("adminCidrs", """["010.0.0.0/8"]""", "adminCidrs[0]: '010.0.0.0/8' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("adminCidrs", """["0x7f.0.0.1/32"]""", "adminCidrs[0]: '0x7f.0.0.1/32' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("kubernetesVersion", "１.３５.１", "kubernetesVersion: '１.３５.１' is not a Kubernetes release. Fix: give MAJOR.MINOR.PATCH without a leading v, e.g. 1.37.1")]
    [TestCase("podCidr", "127.64.0.0/18", "podCidr: 127.64.0.0/18 is not a private range. Fix: use an RFC 1918 range outside vpcCidr, e.g. 10.233.64.0/18")]
    [TestCase("podCidr", "169.254.0.0/18", "podCidr: 169.254.0.0/18 is not a private range. Fix: use an RFC 1918 range outside vpcCidr, e.g. 10.233.64.0/18")]
    [TestCase("serviceCidr", "224.0.0.0/18", "serviceCidr: 224.0.0.0/18 is not a private range. Fix: use an RFC 1918 range outside vpcCidr, e.g. 10.233.0.0/18")]
    [TestCase("serviceCidr", "8.8.0.0/18", "serviceCidr: 8.8.0.0/18 is not a private range. Fix: use an RFC 1918 range outside vpcCidr, e.g. 10.233.0.0/18")]
    [TestCase("serviceCidr", "10.233.0.0/30", "serviceCidr: 10.233.0.0/30 has no room for the cluster DNS address (its 10th). Fix: use a /24 or larger, e.g. 10.233.0.0/18")]
    [TestCase("nodes", """[{"name":"localhost","roles":["control-plane","etcd","worker"]}]""", "nodes[0].name: 'localhost' names this machine on every node. Fix: choose another name, e.g. node1")]
    [TestCase("vpcCidr", "8.8.0.0/16", "vpcCidr: 8.8.0.0/16 is not a DigitalOcean VPC range. Fix: use an RFC 1918 network from /16 to /24, e.g. 10.240.0.0/20, unused in your account")]
    [TestCase("vpcCidr", "10.0.0.0/25", "vpcCidr: 10.0.0.0/25 is not a DigitalOcean VPC range. Fix: use an RFC 1918 network from /16 to /24, e.g. 10.240.0.0/20, unused in your account")]
    // DigitalOcean VPCs are /16 to /24: a /12 or a /15 is refused by its API after the run began.
    [TestCase("vpcCidr", "172.16.0.0/12", "vpcCidr: 172.16.0.0/12 is not a DigitalOcean VPC range. Fix: use an RFC 1918 network from /16 to /24, e.g. 10.240.0.0/20, unused in your account")]
    [TestCase("vpcCidr", "172.16.0.0/15", "vpcCidr: 172.16.0.0/15 is not a DigitalOcean VPC range. Fix: use an RFC 1918 network from /16 to /24, e.g. 10.240.0.0/20, unused in your account")]
    // A droplet and Kubernetes node name is a DNS label: at most 63 characters.
    [TestCase("nodes", """[{"name":"n123456789012345678901234567890123456789012345678901234567890123","roles":["control-plane","etcd","worker"]}]""", "nodes[0].name: 'n123456789012345678901234567890123456789012345678901234567890123' is not a DNS label. Fix: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit")]
    [TestCase("vpcCidr", "10.0.0/16", "vpcCidr: '10.0.0/16' is not a CIDR network (host bits must be zero). Fix: write it as NETWORK/PREFIX, e.g. 10.240.0.0/20")]
    [TestCase("podCidr", "10.240.0.0/16", "podCidr: 10.240.0.0/16 overlaps vpcCidr 10.240.0.0/20. Fix: pick ranges that do not overlap (defaults: vpcCidr 10.240.0.0/20, podCidr 10.233.64.0/18, serviceCidr 10.233.0.0/18)")]
    [TestCase("serviceCidr", "10.233.64.0/24", "serviceCidr: 10.233.64.0/24 overlaps podCidr 10.233.64.0/18. Fix: pick ranges that do not overlap (defaults: vpcCidr 10.240.0.0/20, podCidr 10.233.64.0/18, serviceCidr 10.233.0.0/18)")]
    [TestCase("serviceCidr", "fd00::/108", "serviceCidr: fd00::/108 is not an IPv4 network. Fix: use an IPv4 range; the cluster is single-stack IPv4")]
    [TestCase("apiLoadBalancer", "haproxy", "apiLoadBalancer: 'haproxy' is not a load-balancer mode. Fix: use digitalocean (highly available) or none (the kubeconfig points at the first control-plane node)")]
    [TestCase("podSecurityAudit", "none", "podSecurityAudit: 'none' is not a Pod Security level. Fix: use one of privileged, baseline, restricted (default restricted)")]
    [TestCase("auditLogMaxAgeDays", "3651", "auditLogMaxAgeDays: '3651' is not a number of days from 1 to 3650. Fix: pulumi config set auditLogMaxAgeDays 30")]
    [TestCase("auditLogMaxBackups", "0", "auditLogMaxBackups: '0' is not a number of files from 1 to 1000. Fix: pulumi config set auditLogMaxBackups 10")]
    [TestCase("auditLogMaxSizeMb", "-1", "auditLogMaxSizeMb: '-1' is not a number of megabytes from 1 to 10240. Fix: pulumi config set auditLogMaxSizeMb 100")]
    [TestCase("podSecurityExemptNamespaces", """{"kube-system":true}""", "podSecurityExemptNamespaces: is not a list. Fix: set a list, e.g. `pulumi config set --path 'podSecurityExemptNamespaces[0]' kube-system`")]
    [TestCase("podSecurityExemptNamespaces", """["kube-system",1.5]""", "podSecurityExemptNamespaces[1]: '1.5' is not a namespace name. Fix: use lower-case letters, digits and '-'")]
    [TestCase("secretsEncryptionKeys", "key2", "secretsEncryptionKeys: is not a list. Fix: set a list, e.g. `pulumi config set --path 'secretsEncryptionKeys[0]' key1`")]
    [TestCase("secretsEncryptionKeys", """["key1","Key2"]""", "secretsEncryptionKeys[1]: 'Key2' is not a key name (a DNS label). Fix: use lower-case letters, digits and '-'")]
    [TestCase("sshKeyFingerprint", "aa:bb", "sshKeyFingerprint: 'aa:bb' is not an MD5 key fingerprint. Fix: pulumi config set sshKeyFingerprint \"$(ssh-keygen -l -E md5 -f ~/.ssh/id_ed25519.pub | awk '{print $2}' | cut -d: -f2-)\" (aa:bb:…, 16 pairs), or unset it to upload sshPublicKey")]
    [TestCase("vpcId", "vpc-1", "vpcId: 'vpc-1' is not a VPC id. Fix: give the VPC's UUID (`doctl vpcs list`), or unset it to create a VPC")]
    [TestCase("podCidr", "x", "podCidr: 'x' is not a CIDR network (host bits must be zero). Fix: write it as NETWORK/PREFIX, e.g. 10.240.0.0/20")]
    [TestCase("serviceCidr", "x", "serviceCidr: 'x' is not a CIDR network (host bits must be zero). Fix: write it as NETWORK/PREFIX, e.g. 10.240.0.0/20")]
    [TestCase("serviceCidr", "10.240.0.0/24", "serviceCidr: 10.240.0.0/24 overlaps vpcCidr 10.240.0.0/20. Fix: pick ranges that do not overlap (defaults: vpcCidr 10.240.0.0/20, podCidr 10.233.64.0/18, serviceCidr 10.233.0.0/18)")]
    [TestCase("podCidr", "fd00::/64", "podCidr: fd00::/64 is not an IPv4 network. Fix: use an IPv4 range; the cluster is single-stack IPv4")]
    [TestCase("nodeCidrMaskSize", "29", "nodeCidrMaskSize: '29' is not a prefix length from 16 to 28. Fix: use 24 (a /24 of podCidr per node) or 25 for twice the nodes")]
    [TestCase("nodeCidrMaskSize", "15", "nodeCidrMaskSize: '15' is not a prefix length from 16 to 28. Fix: use 24 (a /24 of podCidr per node) or 25 for twice the nodes")]
    // A node range as large as podCidr leaves no range at all.
    [TestCase("nodeCidrMaskSize", "18", "nodeCidrMaskSize: podCidr 10.233.64.0/18 holds 0 ranges of /18, fewer than the 3 Kubernetes nodes. Fix: use a larger podCidr (e.g. a /16) or a larger nodeCidrMaskSize (e.g. 19, half the pods per node)")]
    [TestCase("dashboard", "yes", "dashboard: 'yes' is not true or false. Fix: pulumi config set dashboard true")]
    [TestCase("nodeLocalDns", "1", "nodeLocalDns: '1' is not true or false. Fix: pulumi config set nodeLocalDns false")]
    [TestCase("metricsServerVersion", "x", "metricsServerVersion: 'x' is not a version. Fix: give a release such as 3.13.0")]
    [TestCase("nodeLocalDnsVersion", "x", "nodeLocalDnsVersion: 'x' is not a version. Fix: give a release such as 1.25.0")]
    [TestCase("dnsAutoscalerVersion", "x", "dnsAutoscalerVersion: 'x' is not a version. Fix: give a release such as 1.10.3")]
    [TestCase("adminCidrs", "[1", "adminCidrs: is not a list. Fix: set a list of CIDRs, e.g. `pulumi config set --path 'adminCidrs[0]' 203.0.113.7/32`, or `pulumi config set adminCidrs 203.0.113.7/32,198.51.100.0/24`")]
    [TestCase("adminCidrs", "[1]", "adminCidrs[0]: '1' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("adminCidrs", "[null]", "adminCidrs[0]: '' is not a CIDR network (host bits must be zero). Fix: write it as ADDRESS/PREFIX, e.g. 203.0.113.7/32")]
    [TestCase("nodes", """[{"name":5,"roles":["control-plane","etcd","worker"]}]""", "nodes[0].name: is missing. Fix: give every node a name such as node1")]
    [TestCase("nodes", """[{"name":"a","roles":["control-plane","etcd","worker",5]}]""", "nodes[0].roles: '5' is not a role. Fix: use control-plane, etcd or worker")]
    [TestCase("nodes", """[{"name":"a","roles":["control-plane","etcd","worker"],"size":5}]""", "nodes[0].size: '5' is not a DigitalOcean droplet size slug. Fix: use a slug such as s-4vcpu-8gb, or leave it out to use size")]
    public void BadValueIsNamedWithItsFix(string key, string value, string expected)
    {
        // The whole problem, its fix included: what a user reads and acts on.
        var error = Fails(With(key, value));
        Assert.That(error.Problems, Is.EqualTo(new[] { $"do-k8s-ha:{expected}" }), error.Message);
    }

    [Test]
    public void EveryHardeningKeyIsReadAndEveryLevelAccepted()
    {
        var values = Valid();
        values["podSecurityEnforce"] = "privileged";
        values["podSecurityWarn"] = "baseline";
        values["podSecurityAudit"] = "privileged";
        // No namespace exempt: allowed (the control plane's pods are static, Calico's may then fail to start).
        values["podSecurityExemptNamespaces"] = "[]";
        values["auditLogMaxAgeDays"] = "3650";
        values["auditLogMaxBackups"] = "1000";
        values["auditLogMaxSizeMb"] = "10240";
        values["secretsEncryptionKeys"] = """["key2","key1"]""";

        var hardening = Parse(values, out _).Hardening;

        Assert.That(hardening.PodSecurity, Is.EqualTo(new PodSecuritySettings("privileged", "baseline", "privileged", hardening.PodSecurity.ExemptNamespaces)));
        Assert.That(hardening.PodSecurity.ExemptNamespaces, Is.Empty);
        Assert.That(hardening.AuditLog, Is.EqualTo(new AuditLogSettings(3650, 1000, 10240)));
        Assert.That(hardening.SecretsEncryptionKeys, Is.EqualTo(new[] { "key2", "key1" }));
    }

    [Test]
    public void TheAuditLogsLeastValuesAreAccepted()
    {
        var values = Valid();
        values["auditLogMaxAgeDays"] = "1";
        values["auditLogMaxBackups"] = "1";
        values["auditLogMaxSizeMb"] = "1";
        Assert.That(Parse(values, out _).Hardening.AuditLog, Is.EqualTo(new AuditLogSettings(1, 1, 1)));
    }

    [TestCase("sshPublicKey", "pulumi config set sshPublicKey")]
    [TestCase("sshPrivateKey", "pulumi config set sshPrivateKey --secret")]
    public void MissingSshKeysAreNamed(string key, string fix)
    {
        var values = Valid();
        values.Remove(key);
        var error = Fails(values);
        Assert.That(error.Message, Does.Contain($"do-k8s-ha:{key}: is missing. Fix: "));
        Assert.That(error.Message, Does.Contain(fix));
    }

    [Test]
    public void EveryProblemIsReportedAtOnce()
    {
        var values = new Dictionary<string, string>
        {
            ["region"] = "x",
            ["kubernetesVersion"] = "latest",
            ["nodes"] = """[{"name":"a","roles":["worker"]},{"name":"b","roles":["etcd","etcd2"]}]""",
            ["podCidr"] = "10.240.0.0/20",
        };
        var error = Fails(values);
        Assert.That(error.Problems.Select(p => p.Split(':')[1]), Is.SupersetOf(new[]
        {
            "region", "kubernetesVersion", "nodes[1].roles", "nodes", "sshPublicKey", "sshPrivateKey", "podCidr",
        }));
        Assert.That(error.Message, Does.StartWith($"The stack configuration has {error.Problems.Count} problem(s); nothing was created"));
    }

    [Test]
    public void NoneLoadBalancerWithSeveralApiServersWarns()
    {
        Parse(With("apiLoadBalancer", "none"), out var warnings);
        Assert.That(warnings, Is.EqualTo(new[] { "do-k8s-ha:apiLoadBalancer is none: the exported kubeconfig points at one control-plane node and stops working when that node is down." }));
        // One API server: nothing a balancer would keep up.
        var single = With("apiLoadBalancer", "none");
        single["nodes"] = """[{"name":"a","roles":["control-plane","etcd","worker"]},{"name":"b","roles":["etcd","worker"]},{"name":"c","roles":["etcd","worker"]}]""";
        Parse(single, out var none);
        Assert.That(none, Is.Empty);
    }

    [TestCase("dev", "k8s-dev")]
    [TestCase("Prod_EU", "k8s-prod-eu")]
    [TestCase("___", "k8s-stack")]
    // Cut to 40 characters (cloud resource names append to it), never ending with '-'.
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456789", "k8s-abcdefghijklmnopqrstuvwxyz0123456789")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456789x", "k8s-abcdefghijklmnopqrstuvwxyz0123456789")]
    [TestCase("abcdefghijklmnopqrstuvwxyz012345678-xy", "k8s-abcdefghijklmnopqrstuvwxyz012345678")]
    public void ClusterNameIsADnsLabel(string stack, string expected) =>
        Assert.That(ConfigParser.ClusterNameFor(stack), Is.EqualTo(expected));

    private static string Workers(int count) =>
        "[{\"name\":\"cp1\",\"roles\":[\"control-plane\",\"etcd\"]}" +
        string.Concat(Enumerable.Range(1, count).Select(i => $",{{\"name\":\"w{i}\",\"roles\":[\"worker\"]}}")) + "]";

    [Test]
    public void PodCidrMustHoldARangeForEveryKubernetesNode()
    {
        var values = With("nodes", Workers(99));

        // 100 Kubernetes nodes: the default /18 holds 64 ranges of /24.
        var error = Fails(values);
        Assert.That(error.Message, Does.Contain("do-k8s-ha:nodeCidrMaskSize: podCidr 10.233.64.0/18 holds 64 ranges of /24, fewer than the 100 Kubernetes nodes").And.Contain("Fix: use a larger podCidr"));

        values["nodeCidrMaskSize"] = "25";
        Assert.That(Parse(values, out _).NodeCidrMaskSize, Is.EqualTo(25), "a /18 holds 128 ranges of /25");
        values.Remove("nodeCidrMaskSize");
        values["podCidr"] = "10.232.0.0/16";
        Assert.That(Parse(values, out _).NodeCidrMaskSize, Is.EqualTo(24), "a /16 holds 256 ranges of /24");
    }

    [TestCase("x")]
    [TestCase("15")]
    [TestCase("29")]
    public void NodeCidrMaskSizeIsAPrefixLength(string mask) =>
        Assert.That(Fails(With("nodeCidrMaskSize", mask)).Message, Does.Contain($"do-k8s-ha:nodeCidrMaskSize: '{mask}' is not a prefix length from 16 to 28"));

    [Test]
    public void TheMaskReachesTheControllerManager()
    {
        var config = DoK8sHa.Scripts.Render.KubeadmInitConfig(Support.Fixtures.Cluster with { NodeCidrMaskSize = 25 }, Support.Fixtures.Node1, schedulable: false);
        Assert.That(config, Does.Contain("    - name: node-cidr-mask-size\n      value: \"25\""));
    }

    [TestCase("sshKeyFingerprint", "SHA256:abc", "is not an MD5 key fingerprint")]
    [TestCase("sshKeyFingerprint", "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45", "is not an MD5 key fingerprint")]
    [TestCase("vpcId", "default", "is not a VPC id")]
    public void AnExistingKeyOrVpcIsNamedByItsId(string key, string value, string problem) =>
        Assert.That(Fails(With(key, value)).Message, Does.Contain($"do-k8s-ha:{key}: '{value.Trim()}' {problem}"));

    [Test]
    public void AnExistingKeyAndVpcAreTaken()
    {
        var values = With("sshKeyFingerprint", "3B:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa");
        values["vpcId"] = "5a4981aa-9653-4bd1-bef5-d6bff52042e4";

        var settings = Parse(values, out _);

        Assert.That((settings.SshKeyFingerprint, settings.VpcId), Is.EqualTo(("3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", "5a4981aa-9653-4bd1-bef5-d6bff52042e4")));
        Assert.That((Parse(Valid(), out _).SshKeyFingerprint, Parse(Valid(), out _).VpcId), Is.EqualTo(((string?)null, (string?)null)));
    }

    [Test]
    public void ThereIsNoOpenDefaultForWhoMayReachTheCluster()
    {
        var values = Valid();
        values.Remove("adminCidrs");

        Assert.That(Fails(values).Message, Does.Contain("do-k8s-ha:adminCidrs: is missing: nobody may reach SSH and the API until you say who. Fix: pulumi config set --path 'adminCidrs[0]' \"$(curl -s https://ifconfig.me)/32\""));
    }

    // `pulumi new` answers a template prompt with a plain string (pulumi
    // pkg/cmd/pulumi/project/newcmd/config.go, templateConfigValue): "one, two" is a list too.
    [TestCase("203.0.113.7/32", new[] { "203.0.113.7/32" })]
    [TestCase(" 203.0.113.7/32 , 198.51.100.0/24 ", new[] { "203.0.113.7/32", "198.51.100.0/24" })]
    [TestCase("""["203.0.113.7/32","198.51.100.0/24"]""", new[] { "203.0.113.7/32", "198.51.100.0/24" })]
    public void AdminCidrsAreAListOrCommaSeparated(string value, string[] expected)
    {
        var settings = Parse(With("adminCidrs", value), out _);

        Assert.That(settings.AdminCidrs.Select(c => c.ToString()), Is.EqualTo(expected));
    }

    [TestCase("203.0.113.7", "adminCidrs[0]: '203.0.113.7' is not a CIDR network")]
    [TestCase("203.0.113.7/32,,", "adminCidrs[1]: '' is not a CIDR network")]
    [TestCase("{\"a\":1}", "adminCidrs: is not a list")]
    public void ACommaSeparatedListIsCheckedItemByItem(string value, string expected) =>
        Assert.That(Fails(With("adminCidrs", value)).Message, Does.Contain(expected));

    // Problems that come with others: each is among them, named with its fix.
    [TestCase("""[1]""", "nodes[0]: is not an object with name and roles. Fix: set a list such as [{\"name\": \"node1\", \"roles\": [\"control-plane\", \"etcd\"]}] with `pulumi config set --path 'nodes[0].name' node1` or in Pulumi.<stack>.yaml")]
    [TestCase("""[{"name":"a","roles":"worker"}]""", "nodes[0].roles: is missing or empty. Fix: list one or more of control-plane, etcd, worker")]
    [TestCase("""[{"name":"a"}]""", "nodes[0].roles: is missing or empty. Fix: list one or more of control-plane, etcd, worker")]
    public void ABadNodeIsNamedAmongTheInventorysProblems(string nodes, string expected) =>
        Assert.That(Fails(With("nodes", nodes)).Problems, Has.Member($"do-k8s-ha:{expected}"));

    [Test]
    public void ANodesSizeIsTrimmedAndARoleGivenTwiceIsOneRole()
    {
        var node = Parse(With("nodes", """[{"name":"a","roles":["control-plane","etcd","worker","worker"],"size":" s-4vcpu-8gb "}]"""), out _).Nodes.Single();

        Assert.That((node.Size, node.IsControlPlane, node.IsEtcd, node.IsWorker), Is.EqualTo(("s-4vcpu-8gb", true, true, true)));
    }

    // The bounds a value may take are accepted: VPC prefixes /16 and /24, node ranges /16 and /28,
    // a podCidr with exactly one range per Kubernetes node, a VPC with exactly one address per node.
    [TestCase("vpcCidr", "10.240.0.0/16")]
    [TestCase("vpcCidr", "10.240.0.0/24")]
    [TestCase("nodeCidrMaskSize", "28")]
    public void TheBoundsAreAccepted(string key, string value) =>
        Assert.That(() => Parse(With(key, value), out _), Throws.Nothing);

    [Test]
    public void ANodeRangeOfSixteenIsAcceptedInAPodNetworkThatHoldsIt()
    {
        var values = With("nodeCidrMaskSize", "16");
        values["podCidr"] = "172.16.0.0/12";
        Assert.That(Parse(values, out _).NodeCidrMaskSize, Is.EqualTo(16));
    }

    [Test]
    public void APodNetworkWithExactlyOneRangePerKubernetesNodeIsAccepted()
    {
        // Two Kubernetes nodes (a, b; c runs etcd only) and a /23 of two /24 ranges.
        var values = With("nodes", """[{"name":"a","roles":["control-plane","etcd"]},{"name":"b","roles":["etcd","worker"]},{"name":"c","roles":["etcd"]}]""");
        values["podCidr"] = "10.233.64.0/23";
        Assert.That(Parse(values, out _).PodCidr.ToString(), Is.EqualTo("10.233.64.0/23"));
    }

    [Test]
    public void TheWholeInternetAmongOtherNetworksIsWarnedAboutToo()
    {
        Parse(With("adminCidrs", """["203.0.113.7/32","0.0.0.0/0"]"""), out var warnings);

        Assert.That(warnings, Has.Count.EqualTo(1).And.Some.StartsWith("do-k8s-ha:adminCidrs lets the whole internet reach SSH"));
    }

    [Test]
    public void ANameOf63CharactersIsAccepted()
    {
        var name = "n" + new string('1', 62);
        var settings = Parse(With("nodes", $$"""[{"name":"{{name}}","roles":["control-plane","etcd","worker"]}]"""), out _);

        Assert.That(settings.Nodes.Single().Name, Is.EqualTo(name));
    }

    // A /24 holds 254 droplet addresses: one per node is enough, one fewer is refused.
    [TestCase(254, null)]
    [TestCase(255, "do-k8s-ha:vpcCidr: 192.168.0.0/24 has too few addresses for 255 nodes. Fix: use a larger range, e.g. a /20")]
    public void AVpcHoldsAnAddressForEveryNode(int count, string? problem)
    {
        var nodes = "[" + string.Join(",", Enumerable.Range(1, count).Select(i => $$"""{"name":"n{{i}}","roles":["control-plane","etcd","worker"]}""")) + "]";
        var values = With("nodes", nodes);
        values["vpcCidr"] = "192.168.0.0/24";
        values["podCidr"] = "10.0.0.0/8";
        values["serviceCidr"] = "172.16.0.0/16";

        if (problem is null)
        {
            Assert.That(Parse(values, out _).Nodes, Has.Count.EqualTo(count));
        }
        else
        {
            Assert.That(Fails(values).Problems, Is.EqualTo(new[] { problem }));
        }
    }

    [Test]
    public void TheWholeInternetIsAcceptedOnlyWhenAskedForAndThenWithAWarning()
    {
        Parse(With("adminCidrs", """["0.0.0.0/0"]"""), out var warnings);

        Assert.That(warnings, Is.EqualTo(new[] { "do-k8s-ha:adminCidrs lets the whole internet reach SSH and the API server port; narrow it with `pulumi config set --path 'adminCidrs[0]' <your-ip>/32`." }));
    }

    [TestCase("node1\\n")]
    [TestCase("node1\\n\\n")]
    public void ANodeNameWithATrailingNewlineIsRefused(string name) =>
        Assert.That(Fails(With("nodes", $$"""[{"name":"{{name}}","roles":["control-plane","etcd","worker"]}]""")).Message, Does.Contain("do-k8s-ha:nodes[0].name"));
}
