using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Command.Remote.Inputs;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

/// <summary>
/// A joining node's own bootstrap token: minted on a live control-plane node just before the
/// join (valid for <see cref="Render.JoinTokenTtl"/>), handed to the join as a secret, and
/// deleted after it. No token outlives its join, and none is kept on a node; a replaced droplet
/// gets a new one (the steps follow the node's droplet).
/// </summary>
internal sealed class JoinToken
{
    /// <param name="mintOn">A control-plane node other than the joining one, with its own admin.conf.</param>
    /// <param name="via">Where to mint instead: the balancer's relay to any ready control-plane node.</param>
    /// <param name="mayPrecedeCluster">The first control-plane node's: minted before any cluster exists, it is then empty.</param>
    public JoinToken(string name, ClusterNode joining, ClusterNode mintOn, IReadOnlyList<Resource> dependsOn, Resource parent, ConnectionArgs? via = null, bool mayPrecedeCluster = false)
    {
        _name = name;
        _joining = joining;
        _mintOn = mintOn;
        _via = via;
        _parent = parent;
        Mint = RemoteStep.Create($"{name}.token", joining, new RemoteStepArgs
        {
            Create = Render.StepScript(($"join-token-{joining.Spec.Name}", Render.JoinTokenScript(joining.Spec.Name, mayPrecedeCluster))),
            DependsOn = dependsOn,
            RunOn = mintOn,
            RunVia = via,
            PrintsSecret = true,
        }, parent);
        // stdout is secret in the state (RemoteStep); its last line is the token, or nothing.
        Token = Output.CreateSecret(Mint.Stdout.Apply(s => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? ""));
    }

    private readonly string _name;
    private readonly ClusterNode _joining;
    private readonly ClusterNode _mintOn;
    private readonly ConnectionArgs? _via;
    private readonly Resource _parent;

    public Remote.Command Mint { get; }

    /// <summary>Secret: the token, or "" when no cluster existed to mint it on.</summary>
    public Output<string> Token { get; }

    /// <summary>Deletes the token once <paramref name="join"/> is done.</summary>
    public Remote.Command DeleteAfter(Resource join) =>
        RemoteStep.Create($"{_name}.token-used", _joining, new RemoteStepArgs
        {
            Create = Output.Unsecret(Token).Apply(t => Render.StepScript(($"join-token-delete-{_joining.Spec.Name}", Render.JoinTokenDelete(_joining.Spec.Name, t.Split('.')[0])))),
            DependsOn = [join],
            RunOn = _mintOn,
            RunVia = _via,
        }, _parent);
}
