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
            Assert.That(entry.Children.ContainsKey(new YamlScalarNode("type")), Is.True, $"{key} has no type");
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
                case IEnumerable<string> list:
                    Assert.That(((YamlSequenceNode)actual!).Children.Select(c => c.ToString()), Is.EqualTo(list), $"default of {key}");
                    break;
            }
        }
    }

    [Test]
    public void PrivateKeyIsDeclaredSecret()
    {
        var entry = (YamlMappingNode)ConfigSection()[new YamlScalarNode("sshPrivateKey")];
        Assert.That(entry[new YamlScalarNode("secret")].ToString(), Is.EqualTo("true"));
    }
}
