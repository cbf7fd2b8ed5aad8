namespace DoK8sHa.Config;

/// <summary>What a node does in the cluster: the Kubespray inventory groups.</summary>
[Flags]
public enum NodeRoles
{
    None = 0,
    ControlPlane = 1,
    Etcd = 2,
    Worker = 4,
}

public static class NodeRolesExtensions
{
    /// <summary>An etcd member or a control-plane node: no update may take two of them down at once.</summary>
    public static bool HoldsQuorum(this NodeRoles roles) => (roles & (NodeRoles.Etcd | NodeRoles.ControlPlane)) != 0;
}

/// <summary>One inventory entry of the stack config, already validated.</summary>
public sealed record NodeSpec(string Name, NodeRoles Roles, string Size)
{
    public bool IsControlPlane => Roles.HasFlag(NodeRoles.ControlPlane);
    public bool IsEtcd => Roles.HasFlag(NodeRoles.Etcd);
    public bool IsWorker => Roles.HasFlag(NodeRoles.Worker);

    /// <summary>A node that runs a kubelet: every control-plane or worker node (etcd-only nodes do not).</summary>
    public bool IsKubernetesNode => IsControlPlane || IsWorker;

    /// <summary>Role names as written in the config, in a fixed order.</summary>
    public IReadOnlyList<string> RoleNames => RoleNaming.Names(Roles);
}

internal static class RoleNaming
{
    public const string ControlPlane = "control-plane";
    public const string Etcd = "etcd";
    public const string Worker = "worker";

    public static IReadOnlyDictionary<string, NodeRoles> ByName => new Dictionary<string, NodeRoles>(StringComparer.Ordinal)
    {
        [ControlPlane] = NodeRoles.ControlPlane,
        [Etcd] = NodeRoles.Etcd,
        [Worker] = NodeRoles.Worker,
    };

    public static IReadOnlyList<string> Names(NodeRoles roles) =>
        ByName.Where(kv => roles.HasFlag(kv.Value)).Select(kv => kv.Key).ToList();
}
