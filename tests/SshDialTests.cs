using DoK8sHa.Components;

namespace DoK8sHa.Tests;

/// <summary>pulumi-command's dial retries, as a duration (remote/connection.go, retry/until.go).</summary>
public class SshDialTests
{
    [Test]
    public void TheRetriesBackOffByHalfFromATenthOfASecondToFiveSeconds()
    {
        // 0.1 + 0.15 + 0.225 + ... : ten waits are 0.1 × (1.5¹⁰ − 1) / 0.5 s; the eleventh would be 5.77 s, capped at 5.
        Assert.That(SshDial.RetriedFor(1).TotalSeconds, Is.EqualTo(0.1).Within(1e-9));
        Assert.That(SshDial.RetriedFor(10).TotalSeconds, Is.EqualTo(0.2 * (Math.Pow(1.5, 10) - 1)).Within(1e-6));
        Assert.That((SshDial.RetriedFor(11) - SshDial.RetriedFor(10)).TotalSeconds, Is.EqualTo(5).Within(1e-9));
    }

    // A wait that the retries reach exactly needs no more: the first delay alone is 100 ms.
    [Test]
    public void AWaitReachedExactlyNeedsNoFurtherRetry() =>
        Assert.That(SshDial.ErrorLimitFor(TimeSpan.FromMilliseconds(100)), Is.EqualTo(1));

    [TestCase(60, 20)]
    [TestCase(360, 80)]
    [TestCase(600, 128)]
    public void ALimitIsTheLeastThatRetriesForTheWait(int seconds, int limit)
    {
        var wait = TimeSpan.FromSeconds(seconds);

        Assert.That(SshDial.ErrorLimitFor(wait), Is.EqualTo(limit));
        Assert.That(SshDial.RetriedFor(limit), Is.GreaterThanOrEqualTo(wait));
        Assert.That(SshDial.RetriedFor(limit - 1), Is.LessThan(wait));
    }
}
