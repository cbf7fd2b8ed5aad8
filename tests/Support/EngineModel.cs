namespace DoK8sHa.Tests.Support;

/// <summary>
/// The Pulumi engine running an update, as a discrete model: a step starts once every step it
/// depends on has finished and one of the --parallel slots is free (4 × CPUs by default:
/// pulumi pkg/cmd/pulumi/operations, defaultParallel), and holds the slot until its operation
/// ends — for a remote command, until its script exits (pulumi pkg/engine step executor). Among
/// ready steps the engine promises no order, so the model takes the order it is given (tests give
/// an adversarial one). A step whose script waits inside for other steps holds its slot meanwhile.
/// </summary>
public static class EngineModel
{
    public sealed record Step(string Name, IReadOnlyList<string> DependsOn, IReadOnlyList<string> WaitsInside, int Seconds);

    /// <param name="PeakCounted">The most steps <c>counted</c> selects that ran at once.</param>
    public sealed record Outcome(bool Completed, int Seconds, IReadOnlyList<string> Finished, IReadOnlyList<string> Stuck, int PeakCounted = 0);

    public static Outcome Run(IReadOnlyList<Step> steps, int slots, IComparer<Step> readyOrder, Func<Step, bool>? counted = null)
    {
        var peak = 0;
        var done = new HashSet<string>(StringComparer.Ordinal);
        var finished = new List<string>();
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        var waiting = steps.ToList();
        var byName = steps.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var clock = 0;
        while (done.Count < steps.Count)
        {
            var ready = waiting.Where(s => s.DependsOn.All(done.Contains)).Order(readyOrder).ToList();
            foreach (var step in ready.Take(slots - running.Count))
            {
                running[step.Name] = step.Seconds;
                waiting.Remove(step);
            }
            if (counted is not null)
            {
                peak = Math.Max(peak, running.Keys.Count(n => counted(byName[n])));
            }
            var progressed = false;
            foreach (var name in running.Keys.ToList())
            {
                if (byName[name].WaitsInside.All(done.Contains))
                {
                    progressed = true;
                    if (--running[name] == 0)
                    {
                        running.Remove(name);
                        done.Add(name);
                        finished.Add(name);
                    }
                }
            }
            if (!progressed)
            {
                // Every slot is held by a step waiting for one that cannot start: the update hangs
                // until the scripts' own timeouts fail it.
                return new Outcome(false, clock, finished, [.. running.Keys, .. waiting.Select(s => s.Name)], peak);
            }
            clock++;
        }
        return new Outcome(true, clock, finished, [], peak);
    }
}
