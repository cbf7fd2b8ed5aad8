using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pulumi;
using Pulumi.Testing;
using YamlDotNet.RepresentationModel;

namespace DoK8sHa.Tests.Support;

/// <summary>The program's result under mocks: what it registered and what it exported.</summary>
public sealed record StackResult(ClusterMocks Mocks, ImmutableArray<Resource> Resources, IDictionary<string, object?> Outputs, IReadOnlyList<string> Warnings, IReadOnlyList<string> Notes)
{
    public Output<T> Output<T>(string name) => (Output<T>)Outputs[name]!;
}

/// <summary>
/// Runs <see cref="ClusterProgram.Run(Action{string}, Action{string})"/> under Pulumi's mocks with a stack's config, supplied the
/// standard way (PULUMI_CONFIG), exactly as `pulumi up` would read it from Pulumi.&lt;stack&gt;.yaml.
/// </summary>
public static class StackRun
{
    public const string PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkLdummydummydummydummydummydummydummydummy test@do-k8s-ha";
    public const string PrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER\n-----END OPENSSH PRIVATE KEY-----";

    /// <summary>The name a new stack of that name gives its cluster under the mocks (organization "organization").</summary>
    public static string ClusterName(string stack) => DoK8sHa.Config.ConfigParser.UniqueClusterNameFor("organization", "do-k8s-ha", stack);

    /// <summary>The stack file's config plus the SSH keys a user sets on the command line.</summary>
    public static Dictionary<string, string> StackConfig(string stack)
    {
        var config = FromStackFile(Repo.Path($"Pulumi.{stack}.yaml"));
        config["do-k8s-ha:sshPublicKey"] = PublicKey;
        config["do-k8s-ha:sshPrivateKey"] = PrivateKey;
        // Who may reach SSH and the API has no default: users set it on the command line too.
        config.TryAdd("do-k8s-ha:adminCidrs", """["203.0.113.0/24"]""");
        return config;
    }

    public static async Task<StackResult> RunAsync(string stack, IDictionary<string, string> config, ClusterMocks? mocks = null, bool isPreview = false, string project = "do-k8s-ha")
    {
        mocks ??= new ClusterMocks();
        Environment.SetEnvironmentVariable("PULUMI_CONFIG", JsonSerializer.Serialize(config));
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", JsonSerializer.Serialize(new[] { $"{project}:sshPrivateKey" }));
        var warnings = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var notes = new System.Collections.Concurrent.ConcurrentQueue<string>();
        ProgramStack.Run = new ProgramStack.Context(mocks, warnings.Enqueue, notes.Enqueue);
        try
        {
            var resources = await Deployment.TestAsync<ProgramStack>(
                mocks,
                new TestOptions { ProjectName = project, StackName = stack, IsPreview = isPreview });
            // A failed registration does not fail TestAsync; under the engine a duplicate URN stops the update.
            if (mocks.Duplicates.Count > 0)
            {
                throw new InvalidOperationException($"the engine would refuse duplicate URNs: {string.Join(", ", mocks.Duplicates)}");
            }
            var outputs = resources.OfType<ProgramStack>().Single().Exported;
            return new StackResult(mocks, resources.RemoveAll(r => r is ProgramStack), outputs, [.. warnings], [.. notes]);
        }
        finally
        {
            ProgramStack.Run = null;
            Environment.SetEnvironmentVariable("PULUMI_CONFIG", null);
            Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", null);
        }
    }

    /// <summary>
    /// The program as `pulumi up` runs it (Deployment.RunAsync's stack registers the dictionary
    /// the program returns as its outputs, in one RegisterResourceOutputs call), with every
    /// resource's options handed to the mocks on the way, as the engine receives them with the
    /// registration: the mocks act on ignoreChanges as the engine does.
    /// </summary>
    public sealed class ProgramStack : Stack
    {
        public sealed record Context(ClusterMocks Mocks, Action<string> Warn, Action<string> Inform);

        /// <summary>The run in progress (Deployment.TestAsync runs one program at a time).</summary>
        public static Context? Run { get; set; }

        public ProgramStack()
            : base(new StackOptions
            {
                ResourceTransformations =
                {
                    args =>
                    {
                        Run!.Mocks.RecordOptions(args.Resource.GetResourceType(), args.Resource.GetResourceName(), args.Options);
                        return null;
                    },
                },
            })
        {
            Exported = ClusterProgram.Run(Run!.Warn, Run.Inform).GetAwaiter().GetResult();
            Everything = Output.Create(Exported.ToImmutableDictionary());
        }

        /// <summary>What the program returned.</summary>
        public IDictionary<string, object?> Exported { get; }

        /// <summary>Registered as the stack's outputs: all of the program's, serialized in one call.</summary>
        [Output("outputs")]
        public Output<ImmutableDictionary<string, object?>> Everything { get; private set; }
    }

    public static Task<StackResult> RunAsync(string stack, ClusterMocks? mocks = null) => RunAsync(stack, StackConfig(stack), mocks);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<StackResult>>> Shared = new();

    /// <summary>
    /// One run of the stack file as it is, shared by the tests that only read what it registered
    /// and exported (a run is a second or more; the mocks are not changed after it).
    /// </summary>
    public static Task<StackResult> SharedAsync(string stack) =>
        Shared.GetOrAdd(stack, s => new Lazy<Task<StackResult>>(() => RunAsync(s))).Value;

    /// <summary>A config with the given inventory (JSON) and everything else from the dev stack.</summary>
    public static Dictionary<string, string> WithNodes(string nodesJson, string stack = "dev")
    {
        var config = StackConfig(stack);
        config["do-k8s-ha:nodes"] = nodesJson;
        return config;
    }

    public static string Workers(int count, string prefix = "worker") =>
        new JsonArray(Enumerable.Range(1, count).Select(i => (JsonNode)new JsonObject
        {
            ["name"] = $"{prefix}{i}",
            ["roles"] = new JsonArray("worker"),
        }).ToArray()).ToJsonString();

    /// <summary>
    /// What a run exported that the next one reads back through its StackReference to itself
    /// (StackHistory): the values, as the engine stores them.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, object>> OutputsOf(StackResult result) => new Dictionary<string, object>
    {
        [StackHistory.KubernetesVersionOutput] = await result.Output<string>(StackHistory.KubernetesVersionOutput).ValueAsync(),
        [StackHistory.NodesOutput] = await result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>(StackHistory.NodesOutput).ValueAsync(),
        [StackHistory.ClusterSettingsOutput] = await result.Output<ImmutableDictionary<string, string>>(StackHistory.ClusterSettingsOutput).ValueAsync(),
        [StackHistory.DepartingOutput] = await result.Output<ImmutableDictionary<string, ImmutableDictionary<string, object>>>(StackHistory.DepartingOutput).ValueAsync(),
    };

    /// <summary>The message a failed run ends with, as Pulumi prints it: the message of each error.</summary>
    public static string FailureOf(Func<Task> run)
    {
        var error = Assert.CatchAsync(() => run())!;
        return error is AggregateException all ? string.Join("\n", all.InnerExceptions.Select(e => e.Message)) : error.Message;
    }

    /// <summary>Reads one stored output value (the program under mocks resolves every output).</summary>
    public static Task<T> ValueAsync<T>(this Output<T> output)
    {
        var value = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        output.Apply(v =>
        {
            value.TrySetResult(v);
            return v;
        });
        return value.Task;
    }

    // Structured values (lists, objects) reach a program as JSON strings, as the CLI passes them.
    private static Dictionary<string, string> FromStackFile(string path)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(path)));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var config = (YamlMappingNode)root[new YamlScalarNode("config")];
        return config.Children.ToDictionary(
            kv => kv.Key.ToString(),
            kv => kv.Value is YamlScalarNode scalar ? scalar.Value ?? "" : ToJson(kv.Value)!.ToJsonString());
    }

    /// <summary>A YAML value as the CLI hands it to a program: JSON.</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlScalarNode s => JsonValue.Create(s.Value),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(kv.Key.ToString(), ToJson(kv.Value)))),
        _ => null,
    };
}
