using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using K8s = Pulumi.Kubernetes;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

public sealed class ClusterAddonsArgs
{
    public required AddonSettings Addons { get; init; }
    public required Cidr PodCidr { get; init; }
    public required Cidr ServiceCidr { get; init; }

    /// <summary>Secret: the program's own kubeconfig (kubeadm:cluster-admins), not the exported operator one.</summary>
    public required Output<string> Kubeconfig { get; init; }

    /// <summary>The exported kubeconfig's user, bound to cluster-admin (ClusterPki.OperatorUser).</summary>
    public required Output<string> OperatorUser { get; init; }

    /// <summary>The endpoint the kubeconfig names, https://host:6443.</summary>
    public required Output<string> ApiEndpoint { get; init; }

    /// <summary>Identifies the cluster to pulumi-kubernetes, whatever the kubeconfig's form.</summary>
    public required string ClusterName { get; init; }

    /// <summary>Goes only with the whole cluster: then the add-ons are not uninstalled one by one first.</summary>
    public required Resource Cluster { get; init; }

    /// <summary>The step that creates the cluster.</summary>
    public required Resource ClusterCreated { get; init; }

    /// <summary>The node that creates the cluster: without a load balancer, the API the add-ons go to.</summary>
    public required ClusterNode InitNode { get; init; }

    /// <summary>
    /// The steps after which every API server the endpoint reaches serves a certificate naming it
    /// (apiserver-endpoints): the provider sends nothing before them.
    /// </summary>
    public IReadOnlyList<Resource> EndpointNamed { get; init; } = [];

    /// <summary>The load balancer users reach the API through, if there is one.</summary>
    public ApiLoadBalancer? LoadBalancer { get; init; }

    /// <summary>The inventory's Kubernetes nodes and their VPC addresses: their count sets the DNS autoscaler's floor.</summary>
    public required IReadOnlyList<(string Name, Output<string> PrivateIp)> KubeletNodes { get; init; }

    /// <summary>The only CA metrics-server trusts for a kubelet's serving certificate (ClusterPki).</summary>
    public required Output<string> KubeletServingCaCert { get; init; }
}

/// <summary>
/// The add-ons, through a Kubernetes provider with the program's own credential: the operators'
/// cluster-admin binding, Calico and metrics-server always, NodeLocal DNSCache and the DNS
/// autoscaler unless turned off, the dashboard when asked for. Nothing is sent before the API answers at the kubeconfig's endpoint.
/// </summary>
public sealed class ClusterAddons : ComponentResource
{
    public const string CalicoChartRepository = "https://docs.tigera.io/calico/charts";
    public const string MetricsServerChartRepository = "https://kubernetes-sigs.github.io/metrics-server/";
    public const string DashboardChartRepository = "https://kubernetes.github.io/dashboard/";

    public ClusterAddons(string name, ClusterAddonsArgs args, ComponentResourceOptions? options = null)
        : base("do-k8s-ha:index:ClusterAddons", name, options)
    {
        var addons = args.Addons;

        // Nothing goes to the API before it answers where the provider connects, and the provider
        // never retries. With a balancer, this step reaches a node through the balancer's SSH
        // relay, which forwards only to control-plane nodes whose /readyz passes its health
        // check, the check that admits the API's forwarding rule too: once the step lands, the
        // API answers through the balancer. Its dials retry while the balancer admits the first
        // node. Without one, it waits on the init node. A remote step: nothing runs where
        // `pulumi up` runs.
        ApiReachable = RemoteStep.Create($"{name}.api-ready", args.InitNode, new RemoteStepArgs
        {
            Create = Render.StepScript(("wait-for-api", Render.WaitForApi($"https://127.0.0.1:{Ports.ApiServer}", ApiWait))),
            RunVia = args.LoadBalancer?.RelayConnection(args.InitNode.Connection, SshDial.ErrorLimitFor(TimeSpan.FromSeconds(ApiWait))),
            DependsOn = [args.ClusterCreated],
        }, parent: this);

        Provider = new K8s.Provider($"{name}-provider", new K8s.ProviderArgs
        {
            KubeConfig = args.Kubeconfig,
            // pulumi-kubernetes replaces the provider, and every resource on it, when the
            // kubeconfig changes or is unknown, unless clusterIdentifier is set and unchanged
            // (provider.go): a renewed credential or a new endpoint must not uninstall the add-ons.
            ClusterIdentifier = args.ClusterName,
            // No deleteUnreachable: with it, a `pulumi refresh` while the API is out of the
            // operator's reach drops every add-on from the state (provider.go, Read), and the next
            // `up` fails on names that still exist. A whole-stack destroy needs no API: every
            // object here is deletedWith the cluster's firewall. For a cluster already gone:
            // PULUMI_K8S_DELETE_UNREACHABLE=true pulumi refresh (docs/troubleshooting.md "A refresh cannot reach the API").
        }, new CustomResourceOptions { Parent = this, DependsOn = [ApiReachable, .. args.EndpointNamed] });

        // The exported kubeconfig's user: a new operator key names another user, and this binding
        // follows it, so every copy of the old kubeconfig is refused (docs/certificates.md).
        OperatorBinding = new K8s.Rbac.V1.ClusterRoleBinding($"{name}-operators", new K8s.Types.Inputs.Rbac.V1.ClusterRoleBindingArgs
        {
            Metadata = new K8s.Types.Inputs.Meta.V1.ObjectMetaArgs { Name = "do-k8s-ha:operators" },
            RoleRef = new K8s.Types.Inputs.Rbac.V1.RoleRefArgs { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "cluster-admin" },
            Subjects = { new K8s.Types.Inputs.Rbac.V1.SubjectArgs { ApiGroup = "rbac.authorization.k8s.io", Kind = "User", Name = args.OperatorUser } },
        }, new CustomResourceOptions { Parent = this, Provider = Provider, DeletedWith = args.Cluster });

        var releases = new List<K8s.Helm.V3.Release>();

        // VXLAN: DigitalOcean cloud firewalls pass TCP, UDP and ICMP only, never IP-in-IP.
        var calico = Release("calico", "tigera-operator", addons.CalicoVersion, CalicoChartRepository, "tigera-operator", new Dictionary<string, object>
        {
            ["installation"] = new Dictionary<string, object>
            {
                ["calicoNetwork"] = new Dictionary<string, object>
                {
                    ["bgp"] = "Disabled",
                    ["ipPools"] = new[]
                    {
                        new Dictionary<string, object>
                        {
                            ["cidr"] = args.PodCidr.ToString(),
                            ["encapsulation"] = "VXLAN",
                            ["natOutgoing"] = "Enabled",
                            ["nodeSelector"] = "all()",
                            ["blockSize"] = 26,
                        },
                    },
                    // kubelet's node-ip is the VPC address; Calico must tunnel over the same interface.
                    ["nodeAddressAutodetectionV4"] = new Dictionary<string, object> { ["kubernetes"] = "NodeInternalIP" },
                },
            },
        });
        Calico = calico;

        // metrics-server dials every kubelet as the API servers do, and trusts for it what they
        // trust: the kubelet-serving CA, whose certificates the program signs, each for one node's
        // own name and address (docs/hardening.md). Not the cluster CA: it signs whatever the CSR
        // API approves. It does not wait for the kubelets' serving steps: at 100 workers and 32
        // engine slots those queue behind the workers' other steps, and the wait put metrics-server
        // and the health gate minutes later (the benchmark); a cluster made earlier, whose kubelets
        // move onto their certificates in the same update, has Helm's 15 minutes for it.
        KubeletServingCa = new K8s.Core.V1.ConfigMap($"{name}-kubelet-serving-ca", new K8s.Types.Inputs.Core.V1.ConfigMapArgs
        {
            Metadata = new K8s.Types.Inputs.Meta.V1.ObjectMetaArgs { Name = KubeletServingCaConfigMap, Namespace = "kube-system" },
            Data = { ["ca.crt"] = args.KubeletServingCaCert },
        }, new CustomResourceOptions { Parent = this, Provider = Provider, DeletedWith = args.Cluster });
        MetricsServer = Release("metrics-server", "metrics-server", addons.MetricsServerVersion, MetricsServerChartRepository, "kube-system", new Dictionary<string, object>
        {
            ["args"] = new[] { $"--kubelet-certificate-authority={MetricsServerKubeletCaDir}/ca.crt" },
            ["extraVolumes"] = new[]
            {
                new Dictionary<string, object> { ["name"] = "kubelet-serving-ca", ["configMap"] = new Dictionary<string, object> { ["name"] = KubeletServingCaConfigMap } },
            },
            ["extraVolumeMounts"] = new[]
            {
                new Dictionary<string, object> { ["name"] = "kubelet-serving-ca", ["mountPath"] = MetricsServerKubeletCaDir, ["readOnly"] = true },
            },
        }, calico, KubeletServingCa);

        if (addons.Dashboard)
        {
            Release("kubernetes-dashboard", "kubernetes-dashboard", addons.DashboardVersion, DashboardChartRepository, "kubernetes-dashboard", new Dictionary<string, object>(), calico);
        }

        if (addons.NodeLocalDns)
        {
            // kubeadm gives kube-dns the tenth address of the service network.
            var kubeDnsIp = args.ServiceCidr.AddressAt(10).ToString();
            NodeLocalDns = new K8s.Yaml.V2.ConfigGroup($"{name}-nodelocaldns", new K8s.Types.Inputs.Yaml.V2.ConfigGroupArgs
            {
                Yaml = Render.NodeLocalDns(addons.NodeLocalDnsVersion, kubeDnsIp),
            }, new ComponentResourceOptions { Parent = this, Provider = Provider, DependsOn = { calico }, DeletedWith = args.Cluster });
        }

        if (addons.DnsAutoscaler)
        {
            DnsAutoscaler = new K8s.Yaml.V2.ConfigGroup($"{name}-dns-autoscaler", new K8s.Types.Inputs.Yaml.V2.ConfigGroupArgs
            {
                Yaml = Render.DnsAutoscaler(addons.DnsAutoscalerVersion, args.KubeletNodes.Count),
            }, new ComponentResourceOptions { Parent = this, Provider = Provider, DependsOn = { calico }, DeletedWith = args.Cluster });
        }

        Releases = releases;
        RegisterOutputs(new Dictionary<string, object?> { ["releases"] = releases.Select(r => r.Name).ToList() });

        K8s.Helm.V3.Release Release(string release, string chart, string version, string repository, string ns, Dictionary<string, object> values, params Resource[] dependsOn)
        {
            var resource = new K8s.Helm.V3.Release($"{name}-{release}", new K8s.Types.Inputs.Helm.V3.ReleaseArgs
            {
                Name = release,
                Chart = chart,
                Version = version,
                Namespace = ns,
                CreateNamespace = true,
                RepositoryOpts = new K8s.Types.Inputs.Helm.V3.RepositoryOptsArgs { Repo = repository },
                Values = values,
                // Wait for the workloads to become ready, so the health gate judges a settled cluster.
                Timeout = 900,
            }, new CustomResourceOptions
            {
                Parent = this,
                Provider = Provider,
                DependsOn = [.. dependsOn],
                // `pulumi destroy`: the droplets take every release with them; uninstalling each
                // first only costs minutes. Turning one add-on off still uninstalls it.
                DeletedWith = args.Cluster,
            });
            releases.Add(resource);
            return resource;
        }
    }

    /// <summary>Seconds the API may take to answer after the cluster is created.</summary>
    public const int ApiWait = 600;

    public Remote.Command ApiReachable { get; }
    public K8s.Provider Provider { get; }
    public K8s.Rbac.V1.ClusterRoleBinding OperatorBinding { get; }
    public K8s.Helm.V3.Release Calico { get; }

    /// <summary>The kubelet-serving CA's certificate in kube-system, for metrics-server.</summary>
    public K8s.Core.V1.ConfigMap KubeletServingCa { get; }

    /// <summary>The ConfigMap that holds the kubelet-serving CA's certificate (ca.crt).</summary>
    public const string KubeletServingCaConfigMap = "do-k8s-ha-kubelet-serving-ca";

    /// <summary>Where metrics-server reads it.</summary>
    public const string MetricsServerKubeletCaDir = "/etc/do-k8s-ha/kubelet-serving-ca";
    public K8s.Helm.V3.Release MetricsServer { get; }
    public K8s.Yaml.V2.ConfigGroup? NodeLocalDns { get; }

    /// <summary>Scales CoreDNS with the cluster (Kubespray's dns-autoscaler), when asked for.</summary>
    public K8s.Yaml.V2.ConfigGroup? DnsAutoscaler { get; }

    /// <summary>The DNS add-ons that run: the health gate waits for them.</summary>
    public IEnumerable<Resource> DnsAddons => new Resource?[] { NodeLocalDns, DnsAutoscaler }.OfType<Resource>();

    /// <summary>Every Helm release installed, for the health gate to wait on.</summary>
    public IReadOnlyList<K8s.Helm.V3.Release> Releases { get; }
}
