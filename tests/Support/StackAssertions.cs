using System.Collections;

namespace DoK8sHa.Tests.Support;

/// <summary>Resource type tokens the tests look resources up by.</summary>
public static class ResourceTypes
{
    public const string Droplet = "digitalocean:index/droplet:Droplet";
    public const string RemoteCommand = "command:remote:Command";
    public const string LocalCommand = "command:local:Command";
    public const string Firewall = "digitalocean:index/firewall:Firewall";
}

/// <summary>Reading what the program registered, shared by the tests of the whole program.</summary>
public static class StackAssertions
{
    public const string Droplet = ResourceTypes.Droplet;
    public const string RemoteCommand = ResourceTypes.RemoteCommand;
    public const string LocalCommand = ResourceTypes.LocalCommand;

    /// <summary>
    /// An input as the resource's provider uses it (a remote step's script: its stdin). A step's
    /// create, update or delete it does not have reads as "" (it runs nothing then); any other
    /// missing input fails the test, so a renamed input is not read as empty.
    /// </summary>
    public static string Input(MockedResource r, string key) =>
        r.Inputs.ContainsKey(key) || (r.Type == RemoteCommand && key is "create" or "update" or "delete")
            ? r.Input(key)
            : throw new AssertionException($"{r.Name} has no input {key}");

    /// <summary>The remote steps named after the node: its own, and those about it.</summary>
    public static IEnumerable<string> RemoteStepsOn(StackResult result, string node) =>
        result.Mocks.OfType(RemoteCommand).Where(c => c.Name.EndsWith($"-{node}", StringComparison.Ordinal) || c.Name.Contains($"-{node}-", StringComparison.Ordinal) || c.Name.StartsWith($"{node}-", StringComparison.Ordinal)).Select(c => c.Name);

    public static int ConnectionPort(MockedResource step) =>
        step.Inputs["connection"] is IDictionary<string, object> connection && connection.TryGetValue("port", out var port) ? Convert.ToInt32(port, System.Globalization.CultureInfo.InvariantCulture) : 22;

    public static string ConnectionHost(MockedResource step) =>
        step.Inputs["connection"] is IDictionary<string, object> connection ? connection["host"].ToString()! : step.Inputs["connection"].ToString()!;

    /// <summary>A firewall's inbound rules as "proto/ports from sources".</summary>
    public static List<string> InboundRules(MockedResource firewall) =>
        ((IEnumerable)firewall.Inputs["inboundRules"]).Cast<IDictionary<string, object>>()
            .Select(r =>
            {
                string From(string key, string prefix) => r.TryGetValue(key, out var v) ? string.Join(",", ((IEnumerable)v).Cast<object>().Select(x => prefix + x)) : "";
                var sources = new[] { From("sourceAddresses", ""), From("sourceTags", "tag:"), From("sourceLoadBalancerUids", "lb:") }.Where(x => x.Length > 0);
                return $"{r["protocol"]}/{(r.TryGetValue("portRange", out var p) ? p : "-")} from {string.Join(",", sources)}";
            })
            .ToList();

    /// <summary>The tags a firewall applies to.</summary>
    public static string Targets(MockedResource firewall) => string.Join(",", ((IEnumerable)firewall.Inputs["tags"]).Cast<object>());

    /// <summary>User data with the node's own host key taken out.</summary>
    public static string WithoutHostKey(string userData) =>
        System.Text.RegularExpressions.Regex.Replace(userData, @"(?ms)^ssh_keys:\n(  .*?\n)+", "");
}
