using System.Collections.Immutable;
using DoK8sHa.Components;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;

namespace DoK8sHa;

/// <summary>
/// The program: reads and validates the inventory, then wires the components in the order a
/// cluster comes up. Everything it does is in components/; this only composes them.
/// </summary>
public static class ClusterProgram
{
    /// <summary>The program as `pulumi up` runs it: warnings go to the engine's log.</summary>
    public static Task<IDictionary<string, object?>> Run() => Run(message => Log.Warn(message), message => Log.Info(message));

    /// <param name="warn">Where warnings go: the engine's log, or a test's list (Pulumi's mock engine keeps only errors, Testing/MockEngine.cs).</param>
    /// <param name="inform">Where what the update will do goes, the same way; null: the engine's log.</param>
    public static async Task<IDictionary<string, object?>> Run(Action<string> warn, Action<string>? inform = null)
    {
        inform ??= message => Log.Info(message);
        ConfigDefaults.UseProject(Deployment.Instance.ProjectName);
        var config = new Pulumi.Config(ConfigDefaults.Namespace);
        // Validation comes first and throws with every problem: nothing is created on bad input.
        var settings = ConfigParser.Parse(
            key => config.Get(key),
            // Set as a secret or in plain text: GetSecret reads either (pulumi-dotnet Config.cs,
            // GetImpl), and asks for no warning Get would give a secret once pulumi#7127 is fixed.
            key => config.GetSecret(key) is not null,
            Deployment.Instance.StackName,
            out var warnings,
            // The language host hands the program its config in PULUMI_CONFIG (pulumi-language-dotnet
            // main.go, constructEnv), where the SDK reads it too (Deployment_Config.cs).
            ConfigParser.KeysSet(Environment.GetEnvironmentVariable("PULUMI_CONFIG"), ConfigDefaults.Namespace));
        // The operator's machine too: a stale SSH agent socket would fail every remote step.
        if (OperatorEnvironment.Problems() is { Count: > 0 } environment)
        {
            throw new ConfigException(environment);
        }
        foreach (var warning in warnings)
        {
            warn(warning);
        }
        var sshPrivateKey = config.RequireSecret("sshPrivateKey");

        // Then what the cluster can take in one update, judged against the last one: a refused
        // version or etcd change stops the run before any resource is registered.
        var previous = await StackHistory.ReadAsync();
        settings = settings with { ClusterName = ClusterName(previous, settings.ClusterName, inform) };
        // Whose the droplets on the cluster's tag are, and which removals of the last update did
        // not happen: DigitalOcean's list, as the record cannot tell (TagOwnership).
        var onTag = TagOwnership.Judge(settings.ClusterName, await AccountDroplets.OnTagAsync(settings.ClusterName), previous, [.. settings.Nodes.Select(n => n.Name)]);
        previous = previous.WithStillLeaving(onTag.StillLeaving);
        var (judged, notes, roll) = UpdateRules.JudgeUpdate(previous, settings);
        var problems = onTag.Problems.Concat(judged).ToList();
        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }
        foreach (var (name, node) in onTag.StillLeaving.OrderBy(n => n.Key, StringComparer.Ordinal))
        {
            inform($"{name} did not finish leaving in the last update (its droplet {node.DropletId} still runs): this update runs its departure again");
        }
        foreach (var note in notes)
        {
            inform(note);
        }
        if (previous.Exists && previous.KubernetesVersion is null)
        {
            warn($"{ConfigDefaults.Namespace}:kubernetesVersion: the last update did not record the version the cluster runs, so this one cannot refuse a downgrade or a skipped minor release. Keep kubernetesVersion as it was in this update (docs/day-2.md \"Upgrading the program\").");
        }

        var network = new ClusterNetwork("network", new ClusterNetworkArgs
        {
            ClusterName = settings.ClusterName,
            Region = settings.Region,
            VpcCidr = settings.VpcCidr,
            AdminCidrs = settings.AdminCidrs,
            SshPublicKey = settings.SshPublicKey,
            ExistingSshKeyFingerprint = settings.SshKeyFingerprint,
            ExistingVpcId = settings.VpcId,
        });

        // The load balancer takes minutes and the certificates name it: start it before the nodes.
        var loadBalancer = settings.ApiLoadBalancer == ApiLoadBalancerMode.DigitalOcean
            ? new ApiLoadBalancer("api", new ApiLoadBalancerArgs
            {
                ClusterName = settings.ClusterName,
                Region = settings.Region,
                VpcId = network.VpcId,
                ControlPlaneTag = network.RoleTags[NodeRoles.ControlPlane],
                AdminCidrs = settings.AdminCidrs,
            })
            : null;
        // The API servers admit the cluster's nodes and the load balancer, or the admins without one.
        network.OpenApi("api-firewall", loadBalancer?.LoadBalancer.Id);

        // A pure worker's bootstrap wait, and with it every step on it but its droplet and its
        // downloads' start, comes after the control plane's init (resolved below, once made): the
        // wait holds an engine slot for as long as cloud-init runs, and a hundred of them at boot
        // held the slots the control plane's steps wait for, first come, first served
        // (docs/performance.md). The workers cannot join before init anyway.
        var afterInit = new DeferredDependency();
        var nodes = settings.Nodes.Select(spec => new ClusterNode(spec.Name, new ClusterNodeArgs
        {
            BootstrapAfter = spec.IsWorker && !spec.IsControlPlane && !spec.IsEtcd ? afterInit.Done : null,
            Spec = spec,
            Settings = settings,
            Network = network,
            SshPrivateKey = sshPrivateKey,
            KeepMachine = roll.Kept.Contains(spec.Name),
            Previous = previous.Nodes?.GetValueOrDefault(spec.Name),
            Lost = settings.IsLost(spec),
        })).ToList();
        var controlPlaneNodes = nodes.Where(n => n.Spec.IsControlPlane).ToList();
        var etcdNodes = nodes.Where(n => n.Spec.IsEtcd).ToList();
        var pki = new ClusterPki("pki", new ClusterPkiArgs
        {
            EtcdMembers = [.. etcdNodes.Select(n => (n.Spec.Name, n.PrivateIp))],
            KubeletNodes = [.. nodes.Where(n => n.Spec.IsKubernetesNode).Select(n => (n.Spec.Name, n.PrivateIp))],
            SecretsEncryptionKeys = settings.Hardening.SecretsEncryptionKeys,
            Legacy = settings.LegacyPki,
        });

        // Users reach the API through the load balancer, or (not highly available) the init node.
        var apiHost = loadBalancer?.Ip ?? controlPlaneNodes[0].PublicIp;
        // What every API server certificate names beside its node's own: kubeadm's at init and
        // joins, and the one apiserver-endpoints keeps current when the address changes.
        var certSans = apiHost.Apply(host => Render.ApiServerCertSans([host]));

        // How each node leaves when its droplet goes: from a live node, so a dead one can leave too.
        var departures = new NodeDepartures("leave", new NodeDeparturesArgs { Nodes = nodes, Cluster = network.Firewall, Relay = loadBalancer, Settings = settings });

        // The local API proxy every Kubernetes node joins through (its release files are its own
        // step, ClusterNode's). A dead droplet (lostNodes) keeps the release its steps last had: a
        // new one would run its steps again, on a node no step can reach. Its replacement
        // installs that release and the rolling upgrade brings it on once lostNodes no longer lists it.
        KubernetesVersion VersionOf(ClusterNode node) =>
            settings.IsLost(node.Spec) && previous.Nodes?.GetValueOrDefault(node.Spec.Name)?.KubernetesVersion is { } kept && KubernetesVersion.TryParse(kept, out var version)
                ? version
                : settings.KubernetesVersion;
        var setup = new KubernetesNodeSetup("node-setup", new KubernetesNodeSetupArgs
        {
            Nodes = controlPlaneNodes,
            ControlPlaneNodes = controlPlaneNodes,
            Lost = settings.LostNodes,
            Pki = pki,
            OneAtATime = true,
        });

        // The off-site copy of etcd's snapshots, when a bucket is configured.
        var bucket = settings.Backups.Bucket is { } bucketName
            ? new SnapshotBucket("offsite", new SnapshotBucketArgs
            {
                Bucket = bucketName,
                Region = settings.Region,
                KeepDays = Math.Max(7, (int)Math.Ceiling(settings.Backups.Keep * settings.Backups.EveryHours / 24.0)),
            })
            : null;
        // A snapshot on every etcd node before etcd's members or a release change.
        var beforeChange = new EtcdSnapshotBeforeChange("snapshot-before-change", new EtcdSnapshotBeforeChangeArgs
        {
            Members = etcdNodes,
            EtcdVersion = settings.EtcdVersion,
            KubernetesVersion = settings.KubernetesVersion.ToString(),
            Lost = settings.LostNodes,
        });

        var etcd = new EtcdCluster("etcd", new EtcdClusterArgs
        {
            ClusterName = settings.ClusterName,
            EtcdVersion = settings.EtcdVersion,
            EtcdSha256 = settings.EtcdSha256,
            Members = etcdNodes,
            Pki = pki,
            Departures = departures,
            After = beforeChange.Steps,
            RestoreFrom = settings.Backups.RestoreFrom,
            Bucket = bucket?.Upload,
        });

        // Snapshots on every etcd node, uploaded when there is a bucket.
        var snapshots = new EtcdSnapshots("snapshots", new EtcdSnapshotsArgs
        {
            Settings = settings.Backups,
            Members = [.. etcdNodes.Zip(etcd.Members, (node, service) => (node, (Resource)service))],
            Pki = pki,
            Upload = bucket?.Upload,
        });

        var controlPlane = new ControlPlane("control-plane", new ControlPlaneArgs
        {
            Settings = settings,
            Nodes = controlPlaneNodes,
            Etcd = etcd,
            Pki = pki,
            Departures = departures,
            Setup = setup,
            CertSans = certSans,
            Relay = loadBalancer,
            VersionOf = VersionOf,
        });

        afterInit.Resolve(controlPlane.Init);

        // The workers' setup waits for the cluster, which they cannot join before anyway. The
        // engine runs at most --parallel operations, handing slots to ready steps in arrival
        // order (pulumi pkg/resource/deploy/step_executor.go: its workers take step chains from
        // one unbuffered channel, whose waiting senders Go serves first come, first served): set
        // up at once, a hundred workers' setups would queue the control plane's steps behind
        // them (docs/performance.md: the 100-node time at P = 32).
        var workerNodes = nodes.Where(n => n.Spec.IsWorker && !n.Spec.IsControlPlane).ToList();
        var workerSetup = new KubernetesNodeSetup("worker-setup", new KubernetesNodeSetupArgs
        {
            Nodes = workerNodes,
            ControlPlaneNodes = controlPlaneNodes,
            Lost = settings.LostNodes,
            After = [controlPlane.Init],
            Pki = pki,
        });

        // After etcd nodes change, or the audit log's rotation, each API server takes them in turn.
        var apiServerEtcd = new ApiServerEtcdEndpoints("apiserver-endpoints", new ApiServerEtcdEndpointsArgs
        {
            ControlPlane = controlPlaneNodes.Zip(controlPlane.Steps).ToList(),
            EtcdEndpoints = etcd.ClientEndpoints,
            CertSans = certSans,
            Flags = Render.ManagedApiServerFlags(settings.Hardening.AuditLog),
            After = [.. setup.KubeletServingSteps, .. workerSetup.KubeletServingSteps],
        });

        var apiEndpoint = apiHost.Apply(host => $"https://{host}:{Ports.ApiServer}");
        // Built from the endpoint and the PKI only, never from a step's output: when the init step
        // is replaced (node1 replaced) its output is unknown in the preview, and pulumi-kubernetes
        // replaces a provider whose kubeconfig is unknown, and every add-on with it. The add-ons
        // still wait for the cluster: the provider depends on the API answering (ClusterAddons).
        // The program's own identity for its provider; the exported one is the operators' (ClusterPki).
        var kubeconfig = Output.CreateSecret(Output.Tuple(apiEndpoint, pki.Material).Apply(t =>
            Render.Kubeconfig(settings.ClusterName, t.Item1, t.Item2.CaCert, t.Item2.OperatorCert, t.Item2.OperatorKey)));
        var programKubeconfig = Output.CreateSecret(Output.Tuple(apiEndpoint, pki.Material).Apply(t =>
            Render.Kubeconfig(settings.ClusterName, t.Item1, t.Item2.CaCert, t.Item2.AdminCert, t.Item2.AdminKey)));

        var addons = new ClusterAddons("addons", new ClusterAddonsArgs
        {
            Addons = settings.Addons,
            PodCidr = settings.PodCidr,
            ServiceCidr = settings.ServiceCidr,
            Kubeconfig = programKubeconfig,
            OperatorUser = pki.OperatorUser,
            ApiEndpoint = apiEndpoint,
            ClusterName = settings.ClusterName,
            ClusterCreated = controlPlane.Init,
            InitNode = controlPlaneNodes[0],
            LoadBalancer = loadBalancer,
            // Without a balancer the endpoint is the first node's public address, which a replaced
            // first node's certificate names only after its apiserver-endpoints step (its join
            // takes kubeadm-config's names, the old address). A balancer keeps its address for its
            // life, and every API server's certificate names it from its init or join.
            EndpointNamed = loadBalancer is null ? [apiServerEtcd.Steps[0]] : [],
            Cluster = network.Firewall,
            KubeletNodes = [.. nodes.Where(n => n.Spec.IsKubernetesNode).Select(n => (n.Spec.Name, n.PrivateIp))],
            KubeletServingCaCert = pki.KubeletServingCaCert,
        });

        // Workers after the add-ons: both wait for init, and the add-ons are on the longer path.
        var workers = new WorkerPool("workers", new WorkerPoolArgs
        {
            Nodes = workerNodes,
            Setup = workerSetup,
            ControlPlaneNodes = controlPlaneNodes,
            ControlPlane = controlPlane,
            Pki = pki.Material,
            Departures = departures,
            Relay = loadBalancer,
            RelayReady = addons.ApiReachable,
        });

        var joined = controlPlaneNodes.Zip(controlPlane.Steps, (node, step) => (node, (Resource)step))
            .Concat(workers.Nodes.Zip(workers.Joins, (node, step) => (node, (Resource)step)))
            .ToList();
        var upgrade = new RollingUpgrade("upgrade", new RollingUpgradeArgs
        {
            Releases = settings.NodeReleases,
            Nodes = joined,
            ControlPlaneNodes = controlPlaneNodes,
            Relay = loadBalancer,
            Lost = settings.LostNodes,
        });

        // kubeadm's own certificates, renewed in their last 60 days, one control-plane node at a
        // time, after whatever makes or upgrades a control plane.
        var kubeadmCerts = new ControlPlaneCertificates("kubeadm-certs", new ControlPlaneCertificatesArgs
        {
            Nodes = controlPlaneNodes,
            After = [.. controlPlane.Steps, .. apiServerEtcd.Steps, .. upgrade.Steps],
            Lost = settings.LostNodes,
        });

        var health = new HealthGate("health", new HealthGateArgs
        {
            Node = controlPlaneNodes[0],
            RunVia = loadBalancer?.RelayConnection(controlPlaneNodes[0].Connection),
            KubernetesNodes = settings.Nodes.Where(n => n.IsKubernetesNode).Select(n => n.Name).ToList(),
            Lost = settings.LostNodes,
            Nodes = nodes,
            KubernetesVersion = settings.KubernetesVersion.ToString(),
            CertificatesRenewed = pki.Renewals.Apply(r => (object)r),
            Addons = settings.Addons,
            SnapshotEveryHours = settings.Backups.EveryHours,
            EtcdEndpoints = etcd.ClientEndpoints,
            // The members on lostNodes may be down; the quorum still counts them.
            LostEtcdEndpoints = Output.All(nodes.Where(n => n.Spec.IsEtcd && settings.IsLost(n.Spec)).Select(n => n.Address))
                .Apply(members => Render.EtcdClientUrls(members).ToImmutableArray()),
            // After the credential steps too: after a renewal the gate reads the rolled certificates.
            After = [.. etcd.CredentialSteps, .. snapshots.Steps, .. controlPlane.CredentialSteps, .. controlPlane.Steps, .. apiServerEtcd.Steps, .. workers.Joins, .. departures.Steps, .. upgrade.Steps, .. kubeadmCerts.Steps, .. addons.Releases, addons.OperatorBinding, addons.KubeletServingCa, .. addons.DnsAddons],
        });

        // What the next update is judged by (StackHistory, UpdateRules) is exported only once the
        // health gate passed. The engine keeps a failed update's outputs where the program
        // registered them (pulumi deployment_executor.go, finalizing the stack outputs), and the
        // SDK registers all of them or none (pulumi-dotnet Deployment_RegisterResourceOutputs.cs
        // serializes them in one call, failing on any that failed): a failed update leaves the
        // last successful update's record, not an inventory or a version that did not happen.
        var passed = health.SchedulerLeader.Apply(_ => true);
        return new Dictionary<string, object?>
        {
            ["kubeconfig"] = kubeconfig,
            ["apiEndpoint"] = apiEndpoint,
            [StackHistory.KubernetesVersionOutput] = passed.Apply(_ => settings.KubernetesVersion.ToString()),
            // The kubeconfig's certificate is renewed by any `pulumi up` in its last 60 days.
            ["kubeconfigExpires"] = pki.OperatorExpires,
            // When each control-plane node's first kubeadm certificate ends, as its step found it.
            ["controlPlaneCertificates"] = Output.All(kubeadmCerts.Ends.Select(e => e.Value.Apply(end => (Node: e.Key, End: end))))
                .Apply(all => all.ToImmutableDictionary(e => e.Node, e => e.End)),
            ["schedulerLeader"] = health.SchedulerLeader,
            ["controllerManagerLeader"] = health.ControllerManagerLeader,
            [StackHistory.ClusterSettingsOutput] = passed.Apply(_ => UpdateRules.ClusterSettingsOf(settings).ToImmutableDictionary()),
            [StackHistory.NodesOutput] = Output.Tuple(passed, Output.All(nodes.Select(node => NodeOutput(node, settings, roll, previous, VersionOf(node)))))
                .Apply(t => t.Item2.ToImmutableDictionary(n => n.Name, n => n.Value)),
            // The nodes this update removes: their departures run after this record is written.
            [StackHistory.DepartingOutput] = passed.Apply(_ => Departing(previous, settings)),
        };
    }

    /// <summary>
    /// The cluster's name, in every tag, resource name and the etcd token (a droplet whose tags
    /// change is replaced). A new stack's is unique to its organization, project and stack; a
    /// renamed stack (`pulumi stack rename` keeps state and outputs) keeps the name it was made
    /// with; one made by a release that did not record it keeps the name that release gave.
    /// </summary>
    private static string ClusterName(PreviousDeployment previous, string fromStackName, Action<string> inform)
    {
        var deployment = Deployment.Instance;
        var unique = ConfigParser.UniqueClusterNameFor(deployment.OrganizationName, deployment.ProjectName, deployment.StackName);
        if (!previous.Exists)
        {
            return unique;
        }
        if (previous.ClusterName is not { } made)
        {
            return fromStackName;
        }
        if (made != fromStackName && made != unique)
        {
            inform($"the cluster keeps the name it was made with, {made}, which its tags and resources carry");
        }
        return made;
    }

    private static Output<(string Name, ImmutableDictionary<string, object> Value)> NodeOutput(ClusterNode node, ClusterSettings settings, RollPlan roll, PreviousDeployment previous, KubernetesVersion version)
    {
        // What the droplet is made from now: the config's, or for a kept node what it had. A kept
        // node whose last update recorded nothing: what its droplet's state says, which an
        // ignored input keeps (the engine's state, not the config).
        var machine = roll.MachineAfter(node.Spec, settings.Image, previous.Nodes?.GetValueOrDefault(node.Spec.Name)) is { } known
            ? Output.Create(known)
            : Output.Tuple(node.Droplet.Image, node.Droplet.Size).Apply(t => new NodeMachine(t.Item1, t.Item2));
        return Output.Tuple(node.PublicIp, node.PrivateIp, node.PinnedHostKey, machine, node.Droplet.Id, node.HostKeyMadeHere).Apply(t => (node.Spec.Name, ImmutableDictionary<string, object>.Empty
            .Add("publicIp", t.Item1)
            .Add("privateIp", t.Item2)
            .Add("roles", node.Spec.RoleNames.ToImmutableArray())
            // The node's line for ~/.ssh/known_hosts: the key its steps pin (ClusterNode).
            .Add("knownHosts", $"{t.Item1} {t.Item3.Trim()}")
            // Whether the droplet made its own host key: what the next update pins (ClusterNode).
            .Add("hostKey", t.Item6 ? StackHistory.HostKeyMadeHere : StackHistory.HostKeyFromUserData)
            // It has a downloads step: a lost node's may run on its replacement droplet (ClusterNode).
            .AddRange(node.Releases is null ? [] : [new KeyValuePair<string, object>("releases", StackHistory.ReleaseFiles)])
            // What the next update judges a new image or size by (MachineRoll), a stack rename and a region change.
            .Add("image", t.Item4.Image)
            .Add("size", t.Item4.Size)
            .Add("cluster", settings.ClusterName)
            .Add("region", settings.Region)
            // Which droplet on the cluster's tag is this node's (TagOwnership).
            .Add("dropletId", t.Item5)
            // The release its steps were rendered with: what a lost node keeps (lostNodes).
            .Add("kubernetesVersion", version.ToString())));
    }

    /// <summary>The recorded nodes not in the inventory any more (those still leaving among them), with their droplets.</summary>
    private static ImmutableDictionary<string, ImmutableDictionary<string, object>> Departing(PreviousDeployment previous, ClusterSettings settings) =>
        (previous.Nodes ?? new Dictionary<string, PreviousNode>())
            .Where(n => n.Value.DropletId is not null && settings.Nodes.All(s => s.Name != n.Key))
            .ToImmutableDictionary(n => n.Key, n => ImmutableDictionary<string, object>.Empty
                .Add("dropletId", n.Value.DropletId!)
                .Add("roles", RoleNaming.Names(n.Value.Roles).ToImmutableArray()));
}
