using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DoK8sHa;
using DoK8sHa.Bench;
using Pulumi;
using Pulumi.Testing;

// Time-to-ready of the real program under Pulumi mocks where each resource takes its modeled
// time (5 ms stand for 1 s; see ModeledDurations), for 3 to 100 nodes; and the program's own
// evaluation time with no delays. Run: dotnet run -c Release --project bench
// The mock engine runs every registration on the thread pool; let it start them all at once,
// as the real engine would, instead of ramping up threads while modeled time runs.
ThreadPool.SetMinThreads(256, 256);
var certificatePem = SelfSignedCertificate();

// Warm-up: JIT and first-use costs are not the program's.
await Run(3, delays: false);
await Run(3, delays: true);
const int DefaultSlots = 32;
if (args is ["--path", ..])
{
    await PrintLongestPath(args is [_, var n] ? int.Parse(n, CultureInfo.InvariantCulture) : 3);
    return 0;
}

// The engine's default --parallel on an 8-core machine (4 × CPUs), and no bound.
Console.WriteLine($"Modeled time-to-ready ({ModeledDurations.MillisecondsPerSecond} ms = 1 s; node1-3 control-plane+etcd, the rest workers; median of 3 runs)");
Console.WriteLine($"{"nodes",6}  {"P=" + DefaultSlots,10}  {"unbounded",10}  {"resources",9}");
var modeled = new Dictionary<int, double>();
var modeledAt32 = new Dictionary<int, double>();
foreach (var nodes in new[] { 3, 10, 50, 100 })
{
    var (bounded, _) = await Median(nodes, delays: true, slots: DefaultSlots);
    var (ms, resources) = await Median(nodes, delays: true);
    modeledAt32[nodes] = bounded / ModeledDurations.MillisecondsPerSecond;
    modeled[nodes] = ms / ModeledDurations.MillisecondsPerSecond;
    Console.WriteLine($"{nodes,6}  {Minutes(modeledAt32[nodes]),10}  {Minutes(modeled[nodes]),10}  {resources,9}");
}

// What the 3-node time is made of: from the health gate back, each operation and the one that
// ended last before it could start (its last dependency; a mock sees a resource only then).
await PrintLongestPath();

Console.WriteLine();
Console.WriteLine("Program evaluation without delays (median of 3 runs)");
foreach (var nodes in new[] { 3, 100 })
{
    var (ms, _) = await Median(nodes, delays: false);
    Console.WriteLine($"evaluation{nodes}: {(ms / 1000).ToString("F2", CultureInfo.InvariantCulture)} s");
}
var destroy3 = await Destroy(3);
Console.WriteLine($"timeToReady3: {(int)Math.Round(modeledAt32[3])}");
Console.WriteLine($"ratio100to3At32: {(modeledAt32[100] / modeledAt32[3]).ToString("F2", CultureInfo.InvariantCulture)}");
Console.WriteLine($"ratio100to3: {(modeled[100] / modeled[3]).ToString("F2", CultureInfo.InvariantCulture)}");
Console.WriteLine($"destroy3: {destroy3}");
return 0;

async Task PrintLongestPath(int nodes = 3)
{
    Console.WriteLine();
    Console.WriteLine($"Longest path, {nodes} nodes, P={DefaultSlots} (modeled s: waited for a slot + ran = ended at)");
    var traced = new ModeledMocks(certificatePem, delays: true, DefaultSlots);
    await Run(nodes, delays: true, DefaultSlots, traced);
    foreach (var span in LongestPath(traced.Spans))
    {
        Console.WriteLine($"  {span.Name,-44} {span.Started - span.Arrived,4:F0} + {span.Ended - span.Started,4:F0} = {span.Ended,4:F0}");
    }
    if (Environment.GetEnvironmentVariable("BENCH_SPANS") is { } filter)
    {
        foreach (var span in traced.Spans.Where(s => System.Text.RegularExpressions.Regex.IsMatch(s.Name, filter)).OrderBy(s => s.Ended))
        {
            Console.WriteLine($"  * {span.Name,-44} {span.Arrived,4:F0} {span.Started - span.Arrived,4:F0} + {span.Ended - span.Started,4:F0} = {span.Ended,4:F0}");
        }
    }
    if (nodes > 3)
    {
        // How busy the slots were, per 30 s: the mean number held.
        var end = traced.Spans.Max(s => s.Ended);
        Console.WriteLine("Slots held, mean per 30 s: " + string.Join(" ", Enumerable.Range(0, (int)(end / 30) + 1).Select(b =>
            (traced.Spans.Sum(s => Math.Max(0, Math.Min(s.Ended, (b + 1) * 30.0) - Math.Max(s.Started, b * 30.0))) / 30).ToString("F0", CultureInfo.InvariantCulture))));
        // Where the slots went: slot-seconds by kind of step (a node's name taken out).
        Console.WriteLine($"Slot-seconds by step, {nodes} nodes (of {DefaultSlots} × {traced.Spans.Max(s => s.Ended):F0})");
        foreach (var kind in traced.Spans.GroupBy(s => System.Text.RegularExpressions.Regex.Replace(s.Name, "(node|worker)[0-9]+", "N"))
            .Select(g => (g.Key, Seconds: g.Sum(s => s.Ended - s.Started), Count: g.Count())).Where(k => k.Seconds >= 1).OrderByDescending(k => k.Seconds))
        {
            Console.WriteLine($"  {kind.Key,-44} {kind.Count,4} {kind.Seconds,7:F0}");
        }
    }
}

// A whole-stack destroy of the n-node stack, under ModeledDestroy.
async Task<int> Destroy(int nodes)
{
    Environment.SetEnvironmentVariable("PULUMI_CONFIG", JsonSerializer.Serialize(Config(nodes)));
    Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", """["do-k8s-ha:sshPrivateKey"]""");
    var mocks = new ModeledMocks(certificatePem, delays: false);
    await Deployment.TestAsync<ModeledDestroy.CapturingStack>(mocks, new TestOptions { ProjectName = "do-k8s-ha", StackName = "bench", IsPreview = false });
    return ModeledDestroy.Seconds(mocks.Registered);
}

async Task<(double Ms, int Resources)> Median(int nodes, bool delays, int? slots = null)
{
    var runs = new List<(double Ms, int Resources)>();
    for (var i = 0; i < 3; i++)
    {
        runs.Add(await Run(nodes, delays, slots));
    }
    return runs.OrderBy(r => r.Ms).ElementAt(1);
}

async Task<(double Ms, int Resources)> Run(int nodes, bool delays, int? slots = null, ModeledMocks? mocks = null)
{
    Environment.SetEnvironmentVariable("PULUMI_CONFIG", JsonSerializer.Serialize(Config(nodes)));
    Environment.SetEnvironmentVariable("PULUMI_CONFIG_SECRET_KEYS", """["do-k8s-ha:sshPrivateKey"]""");
    var clock = Stopwatch.StartNew();
    var (resources, _) = await Deployment.TestAsync(
        mocks ?? new ModeledMocks(certificatePem, delays, slots),
        new TestOptions { ProjectName = "do-k8s-ha", StackName = "bench", IsPreview = false },
        ClusterProgram.Run);
    return (clock.Elapsed.TotalMilliseconds, resources.Length);
}

// Half a modeled second of slack: the mock engine hands a resource over a moment after its last
// dependency returns.
static List<ModeledMocks.Span> LongestPath(IReadOnlyCollection<ModeledMocks.Span> spans)
{
    var path = new List<ModeledMocks.Span>();
    var last = spans.MaxBy(s => s.Ended);
    while (last is not null)
    {
        path.Insert(0, last);
        var (arrived, ended) = (last.Arrived, last.Ended);
        last = spans.Where(s => s.Ended < ended && s.Ended <= arrived + 0.5 && s.Ended > 0.5).MaxBy(s => s.Ended);
    }
    return path;
}

static Dictionary<string, string> Config(int nodes)
{
    var inventory = new JsonArray(
        Node("node1", "control-plane", "etcd"),
        Node("node2", "control-plane", "etcd", "worker"),
        Node("node3", "control-plane", "etcd", "worker"));
    for (var i = 4; i <= nodes; i++)
    {
        inventory.Add(Node($"worker{i}", "worker"));
    }
    return new Dictionary<string, string>
    {
        ["do-k8s-ha:nodes"] = inventory.ToJsonString(),
        ["do-k8s-ha:sshPublicKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkLbenchbenchbenchbenchbenchbenchbenchbench bench@do-k8s-ha",
        ["do-k8s-ha:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----",
        ["do-k8s-ha:adminCidrs"] = """["203.0.113.0/24"]""",
        ["do-k8s-ha:vpcCidr"] = "10.240.0.0/16",
        // The default /18 holds 64 node ranges of /24; 100 nodes need a /16 (the program refuses less).
        ["do-k8s-ha:podCidr"] = "10.232.0.0/16",
    };

    static JsonObject Node(string name, params string[] roles) =>
        new() { ["name"] = name, ["roles"] = new JsonArray([.. roles.Select(r => (JsonNode)r)]) };
}

static string SelfSignedCertificate()
{
    using var key = System.Security.Cryptography.RSA.Create(2048);
    var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=bench", key,
        System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
    using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddYears(1));
    return cert.ExportCertificatePem();
}

static string Minutes(double seconds) =>
    $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s";
