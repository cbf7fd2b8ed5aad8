using Pulumi;
using Remote = Pulumi.Command.Remote;

namespace DoK8sHa.Components;

/// <summary>
/// Steps that run one after another, each depending on the one before: the engine keeps the
/// order, so no step waits inside its script for another node (it would hold one of the engine's
/// --parallel slots while it waits).
/// </summary>
internal sealed class StepChain
{
    private readonly List<Remote.Command> _steps = [];

    /// <summary>The steps in the order they run.</summary>
    public IReadOnlyList<Remote.Command> Steps => _steps;

    /// <summary>No step yet: the next one runs first.</summary>
    public bool IsEmpty => _steps.Count == 0;

    /// <summary>What the next step depends on: its own needs, then the step before it.</summary>
    public IReadOnlyList<Resource> After(params Resource[] needs) => IsEmpty ? needs : [.. needs, _steps[^1]];

    /// <summary>Appends a step created with <see cref="After"/>.</summary>
    public Remote.Command Add(Remote.Command step)
    {
        _steps.Add(step);
        return step;
    }
}
