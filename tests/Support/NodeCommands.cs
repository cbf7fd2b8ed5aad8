namespace DoK8sHa.Tests.Support;

/// <summary>Shell lines a test runs on a node, shared by the tests that run them.</summary>
public static class NodeCommands
{
    /// <summary>
    /// Waits for the pull of the pod network's images, which the downloads start at their end and
    /// nothing in the program waits for: its unit is activating until the pull ended.
    /// </summary>
    public const string WaitForPodNetworkImages = """while [ "$(systemctl is-active do-k8s-ha-pod-network-images)" = activating ]; do sleep 0.1; done""";
}
