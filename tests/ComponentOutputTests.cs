using System.Collections;
using DoK8sHa.Components;
using DoK8sHa.Tests.Support;
using Pulumi;

namespace DoK8sHa.Tests;

/// <summary>
/// What each component registers as its outputs: the engine keeps them in the state, where
/// `pulumi stack export` and the console show them for the component. The dev stack under mocks.
/// </summary>
public class ComponentOutputTests
{
    private static readonly string[] DevNodes = ["node1", "node2", "node3"];

    [Test]
    public async Task EveryComponentRegistersWhatItIs()
    {
        var result = await StackRun.SharedAsync("dev");
        var network = Single<ClusterNetwork>(result);
        var pki = Single<ClusterPki>(result);
        var etcdEndpoints = DevNodes.Select(n => $"https://{ClusterMocks.PrivateIp(n)}:2379").ToArray();
        var releases = result.Mocks.OfType("kubernetes:helm.sh/v3:Release").Select(r => (string)r.Inputs["name"]).ToArray();

        var expected = new List<(string Type, string Name, Dictionary<string, object> Outputs)>
        {
            ("ApiLoadBalancer", "api", new() { ["ip"] = ClusterMocks.LoadBalancerIp }),
            ("ClusterNetwork", "network", new() { ["vpcId"] = await network.VpcId.ValueAsync(), ["clusterTag"] = StackRun.ClusterName("dev") }),
            ("ClusterPki", "pki", new()
            {
                ["caCertificate"] = (await pki.Material.ValueAsync()).CaCert,
                ["renewals"] = await pki.Renewals.ValueAsync(),
            }),
            ("NodeDepartures", "leave", new() { ["kubernetes"] = DevNodes, ["etcd"] = DevNodes, ["disarmed"] = Array.Empty<string>() }),
            ("KubernetesNodeSetup", "node-setup", new() { ["apiProxy"] = "127.0.0.1:6444" }),
            ("KubernetesNodeSetup", "worker-setup", new() { ["apiProxy"] = "127.0.0.1:6444" }),
            ("EtcdCluster", "etcd", new() { ["clientEndpoints"] = etcdEndpoints }),
            ("EtcdSnapshots", "snapshots", new() { ["everyHours"] = 6, ["keep"] = 8 }),
            ("EtcdSnapshotBeforeChange", "snapshot-before-change", new() { ["members"] = "node1,node2,node3" }),
            ("ControlPlane", "control-plane", new() { ["initNode"] = "node1" }),
            ("ApiServerEtcdEndpoints", "apiserver-endpoints", new() { ["etcdEndpoints"] = etcdEndpoints }),
            ("ClusterAddons", "addons", new() { ["releases"] = releases }),
            ("WorkerPool", "workers", new() { ["workers"] = new[] { "node3" } }),
            ("RollingUpgrade", "upgrade", new() { ["order"] = DevNodes }),
            ("ControlPlaneCertificates", "kubeadm-certs", new() { ["ends"] = $"{ClusterMocks.KubeadmCertificatesEnd},{ClusterMocks.KubeadmCertificatesEnd}" }),
            // The mocks' health report names node1 and node2 as the leaders.
            ("HealthGate", "health", new() { ["schedulerLeader"] = "node1", ["controllerManagerLeader"] = "node2" }),
        };
        expected.AddRange(DevNodes.Select(n => ("ClusterNode", n, new Dictionary<string, object>
        {
            ["publicIp"] = ClusterMocks.PublicIp(n),
            ["privateIp"] = ClusterMocks.PrivateIp(n),
        })));

        Assert.That(releases, Is.Not.Empty, "the dev stack installs add-ons");
        Assert.That(((string)expected.Single(e => e.Type == "ClusterPki").Outputs["caCertificate"]), Does.StartWith("-----BEGIN CERTIFICATE-----"));
        // When each issued certificate ends, one by one: a renewal shows as the one that moved.
        var renewals = ((string)expected.Single(e => e.Type == "ClusterPki").Outputs["renewals"]).Split(',');
        Assert.That(renewals, Has.Length.EqualTo(result.Mocks.OfType("tls:index/locallySignedCert:LocallySignedCert").Count()).And.Length.EqualTo(12));
        Assert.That(renewals.Select(r => DateTimeOffset.Parse(r, System.Globalization.CultureInfo.InvariantCulture)), Is.All.GreaterThan(DateTimeOffset.UtcNow));
        Assert.Multiple(async () =>
        {
            foreach (var (type, name, outputs) in expected)
            {
                var registered = result.Mocks.ComponentOutputs($"do-k8s-ha:index:{type}", name);
                Assert.That(registered.Keys, Is.EquivalentTo(outputs.Keys), $"{type} {name}: the outputs it registers");
                foreach (var (key, value) in outputs)
                {
                    if (registered.TryGetValue(key, out var output))
                    {
                        var actual = await output.ValueAsync();
                        Assert.That(actual is IEnumerable and not string ? ((IEnumerable)actual).Cast<object>().ToArray() : actual,
                            Is.EqualTo(value), $"{type} {name}: {key}");
                    }
                }
            }
        });

        // A component added later is listed here too.
        var components = result.Resources.OfType<ComponentResource>().Where(c => c.GetType().Namespace == typeof(ClusterNode).Namespace)
            .Select(c => (c.GetType().Name, c.GetResourceName())).ToList();
        Assert.That(components, Is.EquivalentTo(expected.Select(e => (e.Type, e.Name))), "every component of the dev stack");
    }

    private static T Single<T>(StackResult result) => result.Resources.OfType<T>().Single();
}
