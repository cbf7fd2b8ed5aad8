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
        foreach (var key in ConfigDefaults.Keys.Where(k => !k.Undeclared))
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

    private static IReadOnlyList<string> ShippedStacks =>
        [.. Directory.GetFiles(Repo.Root, "Pulumi.*.yaml").Select(f => Path.GetFileName(f)["Pulumi.".Length..^".yaml".Length]).Order(StringComparer.Ordinal)];

    /// <summary>The README quickstart's `pulumi config set` lines, in order.</summary>
    private static IReadOnlyList<string> QuickstartConfigSets()
    {
        var readme = File.ReadAllText(Repo.Path("README.md"));
        var quickstart = readme[readme.IndexOf("## Quickstart", StringComparison.Ordinal)..];
        var block = quickstart[(quickstart.IndexOf("```sh", StringComparison.Ordinal) + 5)..];
        block = block[..block.IndexOf("```", StringComparison.Ordinal)];
        return [.. block.Split('\n').Where(l => l.Contains("pulumi config set", StringComparison.Ordinal))];
    }

    [Test]
    public void EveryShippedStackIsChecked() => Assert.That(ShippedStacks, Is.SupersetOf(new[] { "dev", "prod" }));

    // What the CLI does before the program starts (tests/Support/PulumiCliConfig.cs, after pulumi
    // pkg/workspace/config.go mergeConfig). Seen failing while Pulumi.yaml declared legacyPki
    // (secret, no default): "Stack 'dev' is missing configuration value 'legacyPki'".
    [TestCaseSource(nameof(ShippedStacks))]
    public void TheCliRunsTheProgramOnEveryShippedStackAfterTheQuickstart(string stack)
    {
        var config = PulumiCliConfig.StackFile(Repo.Path($"Pulumi.{stack}.yaml"));
        foreach (var line in QuickstartConfigSets())
        {
            PulumiCliConfig.ConfigSet(config, ConfigDefaults.Namespace, line);
        }
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), stack, config), Is.Null);
    }

    // Before the quickstart's lines, a shipped stack lacks exactly what only the user can give.
    [TestCaseSource(nameof(ShippedStacks))]
    public void AShippedStackLacksOnlyWhatTheUserGives(string stack) =>
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), stack, PulumiCliConfig.StackFile(Repo.Path($"Pulumi.{stack}.yaml"))),
            Is.EqualTo($"Stack '{stack}' is missing configuration values 'adminCidrs', 'sshPrivateKey' and 'sshPublicKey'"));

    // `pulumi new` writes the template's answers (the secret one encrypted), then the token is set.
    [Test]
    public void TheCliRunsTheProgramOnAStackMadeByPulumiNew()
    {
        var config = new Dictionary<string, StackValue>(StringComparer.Ordinal);
        var prompts = (YamlMappingNode)((YamlMappingNode)Project()[new YamlScalarNode("template")])[new YamlScalarNode("config")];
        foreach (var (key, node) in prompts.Children)
        {
            var secret = ((YamlMappingNode)node).Children.TryGetValue(new YamlScalarNode("secret"), out var s) && s.ToString() == "true";
            config[$"{ConfigDefaults.Namespace}:{key}"] = new StackValue("answer", secret);
        }
        PulumiCliConfig.ConfigSet(config, ConfigDefaults.Namespace, "pulumi config set digitalocean:token --secret");
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), "dev", config), Is.Null);
    }

    // The model refuses what the CLI refuses, so the passes above can fail.
    [Test]
    public void TheCliRefusesAPlainSecretAndAValueOfAnotherType()
    {
        var config = PulumiCliConfig.StackFile(Repo.Path("Pulumi.dev.yaml"));
        foreach (var line in QuickstartConfigSets())
        {
            PulumiCliConfig.ConfigSet(config, ConfigDefaults.Namespace, line);
        }
        var plain = new Dictionary<string, StackValue>(config) { ["do-k8s-ha:sshPrivateKey"] = new("key") };
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), "dev", plain), Is.EqualTo("Stack 'dev' with configuration key 'sshPrivateKey' must be encrypted as it's secret"));
        var notANumber = new Dictionary<string, StackValue>(config) { ["do-k8s-ha:nodeCidrMaskSize"] = new("24x") };
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), "dev", notANumber), Is.EqualTo("Stack 'dev' with configuration key 'nodeCidrMaskSize' must be of type 'integer'"));
        var notObjects = new Dictionary<string, StackValue>(config) { ["do-k8s-ha:nodes"] = new(new List<object> { "node1" }) };
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), "dev", notObjects), Is.EqualTo("Stack 'dev' with configuration key 'nodes' must be of type 'array<object>'"));
        // `pulumi config set nodeCidrMaskSize 24` stores text; ValidateConfigValue takes it (strconv.Atoi).
        var text = new Dictionary<string, StackValue>(config) { ["do-k8s-ha:nodeCidrMaskSize"] = new("24") };
        Assert.That(PulumiCliConfig.Check(ConfigDefaults.Namespace, ConfigSection(), "dev", text), Is.Null);
    }

    // Only an optional secret may stay out of Pulumi.yaml: any other key would lose its declared
    // default and type check.
    [Test]
    public void OnlyOptionalSecretsAreLeftUndeclared() =>
        Assert.That(ConfigDefaults.Keys.Where(k => k.Undeclared).Select(k => (k.Name, k.Secret, k.Default)), Is.EqualTo(new[] { (LegacyPki.Key, true, (object?)null) }));
}
