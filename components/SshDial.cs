namespace DoK8sHa.Components;

/// <summary>
/// How pulumi-command dials a node: one attempt, then a retry after each failure until
/// dialErrorLimit failures (remote/connection.go, dialWithRetry), waiting 100 ms × 1.5ⁿ between
/// attempts, at most 5 s (pulumi sdk/go/common/util/retry/until.go). The limit is therefore a
/// duration: this turns one into the other.
/// </summary>
public static class SshDial
{
    /// <summary>pulumi-command's default: a dial that neither connects nor fails in this time fails.</summary>
    public const int PerDialTimeoutSeconds = 15;

    private static TimeSpan FirstDelay => TimeSpan.FromMilliseconds(100);
    private const double Backoff = 1.5;
    private static TimeSpan MaxDelay => TimeSpan.FromSeconds(5);

    /// <summary>
    /// The least dialErrorLimit with which dials keep being retried for at least <paramref name="wait"/>,
    /// however fast each fails (a refused connection fails at once; a dropped one takes the per-dial timeout).
    /// </summary>
    public static int ErrorLimitFor(TimeSpan wait)
    {
        var waited = TimeSpan.Zero;
        var limit = 0;
        using var delays = Delays().GetEnumerator();
        while (waited < wait && delays.MoveNext())
        {
            waited += delays.Current;
            limit++;
        }
        return limit;
    }

    /// <summary>The least time dials are retried with <paramref name="dialErrorLimit"/> (all failing at once).</summary>
    public static TimeSpan RetriedFor(int dialErrorLimit) =>
        Delays().Take(dialErrorLimit).Aggregate(TimeSpan.Zero, (sum, delay) => sum + delay);

    /// <summary>The waits between failed dials, in order, endless.</summary>
    private static IEnumerable<TimeSpan> Delays()
    {
        for (var delay = FirstDelay; ; delay = delay * Backoff < MaxDelay ? delay * Backoff : MaxDelay)
        {
            yield return delay;
        }
    }
}
