using System.Text;
using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>A node as the rendered scripts see it: its inventory name and its VPC address.</summary>
public sealed record NodeAddress(string Name, string PrivateIp);

/// <summary>What every kubeadm config of the cluster shares.</summary>
public sealed record KubeadmClusterInput(
    string ClusterName,
    KubernetesVersion Version,
    Cidr PodCidr,
    Cidr ServiceCidr,
    IReadOnlyList<string> EtcdEndpoints,
    IReadOnlyList<string> CertSans,
    int NodeCidrMaskSize = 24,
    AuditLogSettings? AuditLog = null);

/// <summary>A key Secrets are encrypted with in etcd: its name and 32 random bytes, base64.</summary>
public sealed record SecretsEncryptionKey(string Name, string Secret);

/// <summary>
/// Renders every script and config file the program puts on a machine: the single place they
/// come from. Each method is a pure function of its inputs, so golden files pin them. One file a
/// concern: this one holds the shared paths, how steps run and the helpers; Render.Node,
/// Render.Etcd, Render.Kubeadm, Render.Hardening and Render.Cluster the renderers.
/// </summary>
public static partial class Render
{
    public const string EtcdPkiDir = "/etc/etcd/pki";
    public const string EtcdDataDir = "/var/lib/etcd";
    public const string BootstrapMarker = "/var/lib/do-k8s-ha/bootstrapped";
    public const string StepsDir = "/var/lib/do-k8s-ha/steps";

    private const string KubePki = "/etc/kubernetes/pki";

    /// <summary>Text as a YAML block scalar's body: every line indented, blank lines left blank.</summary>
    private static string Indent(string text, int spaces) =>
        string.Join("\n", text.TrimEnd('\n').Split('\n').Select(line => line.Length == 0 ? "" : new string(' ', spaces) + line));

    /// <summary>A fragment of shell functions that several scripts share, as it is.</summary>
    private static string Fragment(string name) => Template.Render(name, new Dictionary<string, string>()).TrimEnd('\n');

    /// <summary>wait_for_releases, as node setup and the upgrade steps define it (releases-wait.fragment).</summary>
    internal static string ReleasesWait() => Fragment("releases-wait.fragment");

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The command text of every remote step: it reads the step from standard input into a
    /// root-only file on tmpfs (mktemp makes it 0600 whatever the umask), runs it with no standard
    /// input (so nothing it starts can eat the rest), and removes it. It holds no secret:
    /// pulumi-command prints a failed command's text (remote/commandOutputs.go, "running %q"),
    /// and the engine masks only config secrets. It sets no umask: the step does
    /// (remote-step.sh), and a umask here would reach every file the step writes for a daemon
    /// that runs as its own user (etcd could not read its config under 077).
    /// </summary>
    public const string StepRunner = "f=$(mktemp /run/do-k8s-ha-step.XXXXXX) && trap 'rm -f \"$f\"' EXIT && cat > \"$f\" && bash \"$f\" </dev/null";

    /// <summary>
    /// One remote step of scripts that hold no secret, sent on stdin (<see cref="StepRunner"/>):
    /// each is kept on the node under /var/lib/do-k8s-ha/steps, readable only by root, and run
    /// in order; the first failure stops the step.
    /// </summary>
    public static string StepScript(params (string Name, string Script)[] scripts) => StepScriptIn(StepsDir, scripts);

    /// <summary><see cref="StepScript"/> with the scripts kept somewhere else (tests use a scratch folder).</summary>
    public static string StepScriptIn(string stepsDir, params (string Name, string Script)[] scripts) =>
        Step($"steps={Sh.Quote(stepsDir)}\ninstall -d -m 0700 \"$steps\"",
            "# Each script is kept on the node, readable only by root, so an operator can read or re-run it.",
            $"read or re-run {stepsDir}/<step>.sh there",
            scripts);

    /// <summary>
    /// A remote step whose scripts hold secrets (keys, tokens, kubeconfigs): they run from a
    /// root-only folder on tmpfs that goes when the step ends, so no file on the node keeps them.
    /// </summary>
    public static string SecretStepScript(params (string Name, string Script)[] scripts) =>
        Step("steps=$(mktemp -d /run/do-k8s-ha-steps.XXXXXX)\ntrap 'rm -rf \"$steps\"' EXIT",
            "# Its scripts hold secrets: they run from a private tmpfs folder and are not kept.",
            // Plain words: the hint goes into a double-quoted echo, where backquotes would run a command.
            "its scripts hold secrets and are not kept: the next pulumi up runs the step again",
            scripts);

    private static string Step(string stepsDir, string where, string rerun, (string Name, string Script)[] scripts)
    {
        var runs = scripts.Select(s =>
        {
            // A line equal to the heredoc's delimiter (remote-step-run.fragment), first or last too, would end it early.
            if (s.Script.Split('\n').Contains("DO_K8S_HA_STEP", StringComparer.Ordinal))
            {
                throw new InvalidOperationException($"script {s.Name} contains the step delimiter");
            }
            return Template.Render("remote-step-run.fragment", new Dictionary<string, string>
            {
                ["STEP"] = s.Name,
                ["SCRIPT"] = s.Script.TrimEnd('\n'),
                ["RERUN"] = rerun.Replace("<step>", s.Name, StringComparison.Ordinal),
            }).TrimEnd('\n');
        });
        return Template.Render("remote-step.sh", new Dictionary<string, string>
        {
            ["WHERE"] = where,
            ["STEPS_DIR"] = stepsDir,
            ["RUNS"] = string.Join("\n", runs),
        });
    }

    private static string YamlList(IEnumerable<string> items, int indent) =>
        string.Join("\n", items.Select(i => $"{new string(' ', indent)}- {i}"));

    private static string Pem(string pem)
    {
        var trimmed = pem.Trim('\n');
        if (trimmed.Split('\n').Contains("PEM", StringComparer.Ordinal))
        {
            throw new InvalidOperationException("a PEM block contains its heredoc delimiter");
        }
        return trimmed;
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text.TrimEnd('\n') + "\n"));
}
