using DoK8sHa.Scripts;
using DoK8sHa.Tests.Support;

namespace DoK8sHa.Tests;

/// <summary>
/// wait-for-api.sh, the step before any add-on, run for real against a curl that answers the
/// way curl -f does: exit 22 for an HTTP error (an API server not ready answers /readyz with
/// 500), 7 when nothing listens (curl's man page, EXIT CODES), 0 once ready.
/// </summary>
public class WaitForApiScriptTests
{
    private StubbedNode _node = null!;

    [SetUp]
    public void Node()
    {
        _node = new StubbedNode();
        // Answers from a queue of exit codes, one per call; the last repeats.
        _node.Stub("curl", """
            codes=$(cat "$STATE/answers")
            first=${codes%% *}
            [ "$codes" = "$first" ] || echo "${codes#* }" > "$STATE/answers"
            exit "$first"
            """);
        // No clock waited: the script's pauses between tries return at once.
        _node.Stub("sleep");
    }

    [TearDown]
    public void Cleanup() => _node?.Dispose();

    [Test]
    public void ItWaitsUntilTheApiServerIsReadyAndAsksReadyz()
    {
        _node.WriteState("answers", "7 22 22 0");

        var (exit, output) = _node.Run(Render.WaitForApi("https://127.0.0.1:6443", timeoutSeconds: 600), scratch: []);

        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("is ready"));
        var calls = _node.Log.Split('\n').Where(l => l.StartsWith("curl ", StringComparison.Ordinal)).ToList();
        Assert.That(calls, Has.Count.EqualTo(4));
        Assert.That(calls, Is.All.Contain("https://127.0.0.1:6443/readyz"));
    }

    [Test]
    public void ItGivesUpAfterItsTimeoutWithWhereToLook()
    {
        _node.WriteState("answers", "22");

        var (exit, output) = _node.Run(Render.WaitForApi("https://127.0.0.1:6443", timeoutSeconds: 0), scratch: []);

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("did not answer https://127.0.0.1:6443/readyz within 0s").And.Contain("journalctl -u kubelet"));
    }
}
