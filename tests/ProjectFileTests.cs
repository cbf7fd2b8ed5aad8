using DoK8sHa.Config;
using DoK8sHa.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests;

/// <summary>Pulumi.yaml declares every key with the program's own default, type and description.</summary>
public class ProjectFileTests
{
    private static YamlMappingNode Project()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Repo.Path("Pulumi.yaml"))));
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static YamlMappingNode ConfigSection() => (YamlMappingNode)Project()[new YamlScalarNode("config")];

    [Test]
    public void NameAndRuntime()
    {
        var project = Project();
        Assert.That(project[new YamlScalarNode("name")].ToString(), Is.EqualTo("do-k8s-ha"));
        Assert.That(project[new YamlScalarNode("runtime")].ToString(), Is.EqualTo("dotnet"));
    }

    [Test]
    public void DeclaresExactlyTheProgramsKeys()
    {
        var declared = ConfigSection().Children.Keys.Select(k => k.ToString()).ToList();
        Assert.That(declared, Is.EquivalentTo(ConfigDefaults.Declared.Keys));
    }

    [Test]
    public void EveryKeyHasATypeAndADescription()
    {
        foreach (var (key, node) in ConfigSection().Children)
        {
            var entry = (YamlMappingNode)node;
            Assert.That(entry.Children.ContainsKey(new YamlScalarNode("type")), Is.EqualTo(!ConfigDefaults.Untyped.Contains(key.ToString())), $"{key}'s type");
            Assert.That(entry[new YamlScalarNode("description")].ToString(), Is.Not.Empty, $"{key} has no description");
        }
    }

    [Test]
    public void DefaultsEqualTheProgramsDefaults()
    {
        foreach (var (key, node) in ConfigSection().Children)
        {
            var entry = (YamlMappingNode)node;
            var expected = ConfigDefaults.Declared[key.ToString()];
            var hasDefault = entry.Children.TryGetValue(new YamlScalarNode("default"), out var actual);
            switch (expected)
            {
                case null:
                    Assert.That(hasDefault, Is.False, $"{key} must be set by the user");
                    break;
                case string text:
                    Assert.That(actual?.ToString(), Is.EqualTo(text), $"default of {key}");
                    break;
                case bool flag:
                    Assert.That(actual?.ToString(), Is.EqualTo(flag ? "true" : "false"), $"default of {key}");
                    break;
                case int number:
                    Assert.That(actual?.ToString(), Is.EqualTo(number.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"default of {key}");
                    break;
                case System.Text.Json.Nodes.JsonNode json:
                    Assert.That(System.Text.Json.Nodes.JsonNode.DeepEquals(StackRun.ToJson(actual!), json), Is.True, $"default of {key}: {StackRun.ToJson(actual!)?.ToJsonString()}");
                    break;
                case IEnumerable<string> list:
                    Assert.That(((YamlSequenceNode)actual!).Children.Select(c => c.ToString()), Is.EqualTo(list), $"default of {key}");
                    break;
            }
        }
    }

    [Test]
    public void TheInventoryIsDeclaredAsAListOfObjectsWithTheProgramsDefault()
    {
        var nodes = (YamlMappingNode)ConfigSection()[new YamlScalarNode("nodes")];

        Assert.That(nodes[new YamlScalarNode("type")].ToString(), Is.EqualTo("array"));
        Assert.That(((YamlMappingNode)nodes[new YamlScalarNode("items")])[new YamlScalarNode("type")].ToString(), Is.EqualTo("object"));
        // What the program parses when the key is unset is what Pulumi.yaml declares.
        var parsed = Config.ConfigParser.Parse(key => key == "adminCidrs" ? "203.0.113.7/32" : key == "sshPublicKey" ? StackRun.PublicKey : null, _ => true, "dev", out _);
        Assert.That(parsed.Nodes.Select(n => new { n.Name, Roles = string.Join(",", n.RoleNames) }), Is.EqualTo(new[]
        {
            new { Name = "node1", Roles = "control-plane,etcd" },
            new { Name = "node2", Roles = "control-plane,etcd,worker" },
            new { Name = "node3", Roles = "etcd,worker" },
        }));
    }

    [Test]
    public void PulumiNewAsksForTheRegionTheSshKeysAndWhoMayReachTheCluster()
    {
        var template = (YamlMappingNode)Project()[new YamlScalarNode("template")];
        var prompts = (YamlMappingNode)template[new YamlScalarNode("config")];

        Assert.That(prompts.Children.Keys.Select(k => k.ToString()), Is.EquivalentTo(new[] { "region", "sshPublicKey", "sshPrivateKey", "adminCidrs" }));
        foreach (var (key, node) in prompts.Children)
        {
            var prompt = (YamlMappingNode)node;
            Assert.That(ConfigDefaults.Declared.ContainsKey(key.ToString()), Is.True, $"{key} is a key of the program");
            Assert.That(prompt[new YamlScalarNode("description")].ToString(), Is.Not.Empty);
            // A typed key would refuse the string a prompt gives unless it is a string.
            var declared = (YamlMappingNode)ConfigSection()[key];
            Assert.That(declared.Children.TryGetValue(new YamlScalarNode("type"), out var type) ? type.ToString() : "untyped", Is.AnyOf("string", "untyped"), $"{key}");
            if (prompt.Children.TryGetValue(new YamlScalarNode("default"), out var value))
            {
                Assert.That(value.ToString(), Is.EqualTo(ConfigDefaults.Declared[key.ToString()]), $"{key}'s prompt offers the program's default");
            }
        }
        Assert.That(((YamlMappingNode)prompts[new YamlScalarNode("sshPrivateKey")])[new YamlScalarNode("secret")].ToString(), Is.EqualTo("true"));
    }

    [Test]
    public void EachKeyIsDeclaredWithTheProgramsDescriptionAndSecrecy()
    {
        foreach (var key in ConfigDefaults.Keys)
        {
            var entry = (YamlMappingNode)ConfigSection()[new YamlScalarNode(key.Name)];
            Assert.That(entry[new YamlScalarNode("description")].ToString(), Is.EqualTo(key.Description), key.Name);
            var secret = entry.Children.TryGetValue(new YamlScalarNode("secret"), out var s) && s.ToString() == "true";
            Assert.That(secret, Is.EqualTo(key.Secret), $"{key.Name} secret");
        }
    }

    [Test]
    public void PrivateKeyIsDeclaredSecret()
    {
        var entry = (YamlMappingNode)ConfigSection()[new YamlScalarNode("sshPrivateKey")];
        Assert.That(entry[new YamlScalarNode("secret")].ToString(), Is.EqualTo("true"));
    }
}
