using Pulumi;

namespace DoK8sHa.Components;

/// <summary>
/// A dependency on a resource the program makes later than the one that waits for it: a pure
/// worker's bootstrap wait comes after the control plane's init, which is made after the nodes.
/// <see cref="Done"/> resolves, known even in a preview, once <see cref="Resolve"/>'s resource is
/// created, and carries it as a dependency, so a step whose input it is registers only then.
/// </summary>
public sealed class DeferredDependency
{
    private readonly TaskCompletionSource<Output<string>> _resource = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DeferredDependency() => Done = Output.Create(_resource.Task).Apply(o => o);

    /// <summary>"" once the resource given to <see cref="Resolve"/> is created.</summary>
    public Output<string> Done { get; }

    /// <summary>Names the resource; the program must call it once, or what waits never starts.</summary>
    // A resource's URN resolves when its registration returns, after its create ended (known in a preview).
    public void Resolve(Resource resource) => _resource.SetResult(resource.Urn.Apply(_ => ""));
}
