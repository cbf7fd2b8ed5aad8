using DoK8sHa.Components;
using DoK8sHa.Config;
using DoK8sHa.Scripts;
using Pulumi;
using Pulumi.Testing;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// The program's PKI component, run once for the test run under the mocks' TLS provider: real CAs
/// and credentials, issued the way a user's `pulumi up` issues them. Etcd members of
/// <see cref="Members"/> get their own certificates.
/// </summary>
public static class RealPki
{
    /// <summary>
    /// Every address an etcd member of the tests has: the test hosts', and the dev inventory's.
    /// Scripts check a member certificate's IP, so one certificate per address serves any name.
    /// </summary>
    private static readonly IReadOnlyList<string> Addresses =
        [.. Enumerable.Range(1, 8).Select(i => $"{TestHosts.Subnet}.{i}"), "10.240.0.2", "10.240.0.3", "10.240.0.4"];

    private static readonly IReadOnlyList<NodeAddress> Members = [.. Addresses.Select(ip => new NodeAddress($"member-{ip.Replace('.', '-')}", ip))];

    private static readonly Lazy<(ClusterPkiMaterial Material, Dictionary<string, EtcdMemberCredential> Members)> Generated = new(() =>
        Task.Run(async () =>
        {
            ClusterPki? pki = null;
            await Deployment.TestAsync(new ClusterMocks(), new TestOptions { ProjectName = "do-k8s-ha", StackName = "pki", IsPreview = false }, () =>
            {
                pki = new ClusterPki("pki", new ClusterPkiArgs { EtcdMembers = [.. Members.Select(m => (m.Name, Output.Create(m.PrivateIp)))], SecretsEncryptionKeys = ConfigDefaults.SecretsEncryptionKeys });
                return new Dictionary<string, object?>();
            });
            var material = await pki!.Material.ValueAsync();
            var members = new Dictionary<string, EtcdMemberCredential>();
            foreach (var member in Members)
            {
                members[member.Name] = await pki.EtcdMember(member.Name).ValueAsync();
            }
            return (material, members);
        }).GetAwaiter().GetResult());

    public static ClusterPkiMaterial Material => Generated.Value.Material;

    /// <summary>An etcd member credential for the node's private address, signed by the etcd CA.</summary>
    public static EtcdMemberCredential Member(NodeAddress node) =>
        Generated.Value.Members[Members.Single(m => m.PrivateIp == node.PrivateIp).Name];
}
