namespace DoK8sHa.Config;

/// <summary>What the last successful update left: the stack's own outputs, read before anything changes.</summary>
/// <param name="KubernetesVersion">The version the cluster runs; null on a new stack, or one last updated by a release of this program that did not export it.</param>
/// <param name="EtcdNodes">The nodes with the role etcd; null on a new stack.</param>
public sealed record PreviousDeployment(KubernetesVersion? KubernetesVersion, IReadOnlyList<string>? EtcdNodes)
{
    /// <summary>The stack has been deployed (it exported its inventory).</summary>
    public bool Exists => EtcdNodes is not null;
}

/// <summary>
/// Changes a live cluster cannot take in one update, judged against the previous deployment
/// before any resource is registered: a refusal changes nothing, in `pulumi preview` as in `pulumi up`.
/// </summary>
public static class UpdateRules
{
    /// <summary>The refused changes (each names its key and the fix), and what the update will do.</summary>
    public static (IReadOnlyList<string> Problems, IReadOnlyList<string> Notes) Judge(PreviousDeployment previous, KubernetesVersion target, IReadOnlyList<string> etcdNodes)
    {
        var problems = new List<string>();
        var notes = new List<string>();
        JudgeVersion(previous.KubernetesVersion, target, problems, notes);
        JudgeEtcd(previous.EtcdNodes, etcdNodes, problems, notes);
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
    private static void JudgeEtcd(IReadOnlyList<string>? previous, IReadOnlyList<string> target, List<string> problems, List<string> notes)
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
            problems.Add($"{key}: takes the role etcd from {string.Join(' ', removed)} in one update; etcd lets one member go per update. Fix: take it from one of them, pulumi up, then from the next");
        }
        if (added.Count <= 1 && removed.Count <= 1 && added.Count + removed.Count > 0)
        {
            notes.Add("etcd members: " + string.Join(", ", added.Select(n => $"adding {n}").Concat(removed.Select(n => $"removing {n}"))));
        }
    }
}
