namespace DoK8sHa.Config;

/// <summary>What the last successful update left: the stack's own outputs, read before anything changes.</summary>
/// <param name="KubernetesVersion">The version the cluster runs; null on a new stack, or one last updated by a release of this program that did not export it.</param>
/// <param name="Nodes">Every node as the update left it; null on a new stack.</param>
/// <param name="ClusterName">The cluster's name, which its tags carry; null on a new stack or one that did not record it.</param>
public sealed record PreviousDeployment(KubernetesVersion? KubernetesVersion,
    IReadOnlyDictionary<string, PreviousNode>? Nodes = null, string? ClusterName = null, string? Region = null)
{
    /// <summary>The nodes with the role etcd; null on a new stack.</summary>
    public IReadOnlyList<string>? EtcdNodes => Nodes?.Where(n => n.Value.Roles.HasFlag(NodeRoles.Etcd)).Select(n => n.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>The settings kubeadm keeps in kubeadm-config, by config key, as the cluster was made; null: not recorded.</summary>
    public IReadOnlyDictionary<string, string>? ClusterSettings { get; init; }

    /// <summary>
    /// Nodes the last successful update removed from the inventory, with their droplets: their
    /// departures ran after it exported its record (the engine deletes what the program no longer
    /// declares at the end of the update), so they may not have happened (<see cref="TagOwnership"/>).
    /// </summary>
    public IReadOnlyDictionary<string, PreviousNode> Departing { get; init; } = System.Collections.Immutable.ImmutableDictionary<string, PreviousNode>.Empty;

    /// <summary>Nodes whose departure the last update did not finish (their droplet still runs): counted as they were.</summary>
    public IReadOnlySet<string> StillLeaving { get; init; } = System.Collections.Immutable.ImmutableHashSet<string>.Empty;

    /// <summary>This deployment with the nodes still leaving counted in: they are still members.</summary>
    public PreviousDeployment WithStillLeaving(IReadOnlyDictionary<string, PreviousNode> leaving) => leaving.Count == 0 ? this : this with
    {
        Nodes = (Nodes ?? new Dictionary<string, PreviousNode>()).Concat(leaving).ToDictionary(n => n.Key, n => n.Value, StringComparer.Ordinal),
        StillLeaving = leaving.Keys.ToHashSet(StringComparer.Ordinal),
    };

    /// <summary>The stack has been deployed (it exported its inventory).</summary>
    public bool Exists => Nodes is not null;
}

/// <summary>
/// Changes a live cluster cannot take in one update, judged against the previous deployment
/// before any resource is registered: a refusal changes nothing, in `pulumi preview` as in `pulumi up`.
/// </summary>
public static class UpdateRules
{
    /// <summary>
    /// Everything judged against the previous deployment: the version and etcd rules, the changes
    /// that would replace every droplet at once (region, VPC range, the tags' cluster name), and
    /// how a new image or size rolls (<see cref="MachineRoll"/>).
    /// </summary>
    public static (IReadOnlyList<string> Problems, IReadOnlyList<string> Notes, RollPlan Roll) JudgeUpdate(PreviousDeployment previous, ClusterSettings settings)
    {
        var (versionAndEtcd, notes) = Judge(previous, settings.KubernetesVersion, [.. settings.EtcdNodes.Select(n => n.Name)]);
        var problems = versionAndEtcd.ToList();
        var allNotes = notes.ToList();
        if (previous.Nodes is not { } before)
        {
            return (problems, allNotes, RollPlan.NewStack);
        }
        var ns = ConfigDefaults.Namespace;

        // Each of these is an input of every droplet (region, vpc_uuid) that replaces it. (The
        // cluster's name, in every tag, is kept through a stack rename: ClusterProgram.)
        if (previous.Region is { } region && region != settings.Region)
        {
            problems.Add($"{ns}:region: {region} -> {settings.Region} would replace every droplet at once, and a VPC, etcd's peer network, does not span regions. Fix: pulumi config set region {region}; a cluster moves region as a new stack");
        }
        var outside = before.Where(n => n.Value.PrivateIp is { } ip && System.Net.IPAddress.TryParse(ip, out var address) && !settings.VpcCidr.Contains(address))
            .Select(n => $"{n.Key} {n.Value.PrivateIp}").Order(StringComparer.Ordinal).ToList();
        if (outside.Count > 0 && settings.VpcId is null)
        {
            problems.Add($"{ns}:vpcCidr: {settings.VpcCidr} does not hold the nodes' addresses ({string.Join(", ", outside)}): a new range replaces the VPC and every droplet in it at once. Fix: set vpcCidr back to the range that holds them (pulumi config set vpcCidr <range>)");
        }

        JudgeClusterSettings(previous.ClusterSettings, settings, problems);

        var keyBefore = before.Where(n => n.Value.Roles.HoldsQuorum()).Select(n => $"{n.Key}:{n.Value.Roles}").ToHashSet(StringComparer.Ordinal);
        var keyNow = settings.Nodes.Where(n => n.Roles.HoldsQuorum()).Select(n => $"{n.Name}:{n.Roles}").ToHashSet(StringComparer.Ordinal);
        var (roll, rollNotes) = MachineRoll.Plan(before, settings.Nodes, settings.Image, membershipChanges: !keyBefore.SetEquals(keyNow));
        allNotes.AddRange(rollNotes);

        // A node that joins during an upgrade would run a kubelet newer than the API servers not
        // upgraded yet (kubelet may never be newer than kube-apiserver: Kubernetes version skew
        // policy); a node rolled during one would too.
        if (previous.KubernetesVersion is { } was && was != settings.KubernetesVersion)
        {
            var joining = settings.Nodes.Where(n => n.IsKubernetesNode && !before.ContainsKey(n.Name)).Select(n => n.Name).ToList();
            if (joining.Count > 0)
            {
                problems.Add($"{ns}:kubernetesVersion: {was} -> {settings.KubernetesVersion} in the update that adds {string.Join(' ', joining)}: a node that joins during an upgrade runs a kubelet newer than the API servers not upgraded yet. Fix: add the nodes with kubernetesVersion {was} (pulumi config set kubernetesVersion {was}; pulumi up), then upgrade");
            }
            var rolling = roll.Rolled.Concat(roll.Waiting).Distinct().Order(StringComparer.Ordinal).ToList();
            if (rolling.Count > 0)
            {
                problems.Add($"{ns}:kubernetesVersion: {was} -> {settings.KubernetesVersion} while {string.Join(' ', rolling)} take a new image or size: a replaced node would join with the new version before the API servers have it. Fix: pulumi config set kubernetesVersion {was}; pulumi up until no node waits for its image or size; then upgrade");
            }
        }
        return (problems, allNotes, roll);
    }

    /// <summary>
    /// The settings `kubeadm init` writes into the cluster (its kubeadm-config ConfigMap, each API
    /// server's and controller-manager's manifest, every pod's and Service's address) that no
    /// update can change, by config key: what the next update is judged by (the clusterSettings
    /// output). The audit log's rotation is not among them: ApiServerEtcdEndpoints rolls it.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ClusterSettingsOf(ClusterSettings settings) => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["podCidr"] = settings.PodCidr.ToString(),
        ["serviceCidr"] = settings.ServiceCidr.ToString(),
        ["nodeCidrMaskSize"] = settings.NodeCidrMaskSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["apiLoadBalancer"] = settings.ApiLoadBalancer == ApiLoadBalancerMode.DigitalOcean ? "digitalocean" : "none",
    };

    // kubeadm reads these once, at init: joins and upgrades render from kubeadm-config, not from
    // this program's config (kubeadm's own "Reconfiguring a kubeadm cluster"), so a change would
    // reach nothing that runs, or, for the ranges and the endpoint, break what does.
    private static void JudgeClusterSettings(IReadOnlyDictionary<string, string>? recorded, ClusterSettings settings, List<string> problems)
    {
        if (recorded is null)
        {
            return;
        }
        foreach (var (key, now) in ClusterSettingsOf(settings))
        {
            if (!recorded.TryGetValue(key, out var was) || was == now)
            {
                continue;
            }
            var why = key switch
            {
                "podCidr" or "nodeCidrMaskSize" => "every node's pod range and every pod's address come from it, and Calico's pool holds it",
                "serviceCidr" => "every Service's cluster IP, CoreDNS's among them, and the API server's certificate come from it",
                _ => "the API servers' certificates, the exported kubeconfig and the firewall name the endpoint it gives",
            };
            problems.Add($"{ConfigDefaults.Namespace}:{key}: {was} -> {now} on a live cluster: {why}. Fix: pulumi config set {key} {was}");
        }
    }

    /// <summary>The refused changes (each names its key and the fix), and what the update will do.</summary>
    public static (IReadOnlyList<string> Problems, IReadOnlyList<string> Notes) Judge(PreviousDeployment previous, KubernetesVersion target, IReadOnlyList<string> etcdNodes)
    {
        var problems = new List<string>();
        var notes = new List<string>();
        JudgeVersion(previous.KubernetesVersion, target, problems, notes);
        JudgeEtcd(previous.EtcdNodes, etcdNodes, previous.StillLeaving, problems, notes);
        return (problems, notes);
    }

    // kubeadm upgrades one minor release at a time and never downgrades (kubeadm docs, "Upgrading kubeadm clusters").
    private static void JudgeVersion(KubernetesVersion? previous, KubernetesVersion target, List<string> problems, List<string> notes)
    {
        if (previous is null || previous == target)
        {
            return;
        }
        var key = $"{ConfigDefaults.Namespace}:kubernetesVersion";
        if (target.Major != previous.Major || target.IsOlderThan(previous))
        {
            problems.Add($"{key}: {previous} -> {target} goes back; kubeadm cannot downgrade a cluster. Fix: pulumi config set kubernetesVersion {previous}");
        }
        else if (target.Minor > previous.Minor + 1)
        {
            problems.Add($"{key}: {previous} -> {target} skips a minor release; kubeadm upgrades one minor at a time. Fix: pulumi config set kubernetesVersion {previous.Major}.{previous.Minor + 1}.<patch>, pulumi up, then {target}");
        }
        else
        {
            notes.Add($"upgrading Kubernetes {previous} -> {target}, one node at a time");
        }
    }

    // Each new member joins with the membership as it finds it, so two joining at once can each
    // count the other or not; members leave one at a time. One in and one out (a swap) is fine.
    private static void JudgeEtcd(IReadOnlyList<string>? previous, IReadOnlyList<string> target, IReadOnlySet<string> stillLeaving, List<string> problems, List<string> notes)
    {
        var key = $"{ConfigDefaults.Namespace}:nodes";
        if (previous is null)
        {
            // A new cluster. An even count is only a step between odd ones on a live cluster.
            var count = target.Count;
            if (count % 2 == 0)
            {
                problems.Add($"{key}: gives a new cluster {count} etcd nodes, which tolerate as many failures as {count - 1} do ({(count - 1) / 2}); an even count is only a step between odd ones on a live cluster. Fix: give the role etcd to {count - 1} or {count + 1} nodes");
            }
            return;
        }
        var added = target.Except(previous, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var removed = previous.Except(target, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (added.Count > 1)
        {
            problems.Add($"{key}: gives the role etcd to {string.Join(' ', added)} in one update; etcd takes one new member per update. Fix: give it to one of them, pulumi up, then to the next");
        }
        if (removed.Count > 1)
        {
            var unfinished = removed.Where(stillLeaving.Contains).ToList();
            var why = unfinished.Count == 0 ? "" : $" ({string.Join(' ', unfinished)} did not finish leaving in the last update: its droplet still runs, and this update runs its departure again)";
            problems.Add($"{key}: takes the role etcd from {string.Join(' ', removed)} in one update{why}; etcd lets one member go per update. Fix: take it from one of them, pulumi up, then from the next");
        }
        if (added.Count <= 1 && removed.Count <= 1 && added.Count + removed.Count > 0)
        {
            notes.Add("etcd members: " + string.Join(", ", added.Select(n => $"adding {n}").Concat(removed.Select(n => $"removing {n}"))));
        }
    }
}
