using DoK8sHa.Config;

namespace DoK8sHa.Scripts;

/// <summary>The API server's hardening files.</summary>
public static partial class Render
{
    /// <summary>Where the API server's hardening files live on a control-plane node (kubeadm mounts it).</summary>
    public const string HardeningDir = "/etc/kubernetes/hardening";

    /// <summary>
    /// The API server's hardening files (audit policy, Pod Security defaults, anonymous access,
    /// Secrets encryption) and the script that installs them. Secret: it carries the keys.
    /// </summary>
    public static string ApiServerConfig(HardeningSettings hardening, IReadOnlyList<SecretsEncryptionKey> keys)
    {
        if (keys.Count == 0)
        {
            throw new ArgumentException("Secrets need at least one encryption key", nameof(keys));
        }
        foreach (var key in keys)
        {
            // secretbox takes exactly 32 bytes (k8s.io/apiserver storage/value/encrypt/secretbox).
            if (!Convert.TryFromBase64String(key.Secret, new byte[64], out var length) || length != 32)
            {
                throw new ArgumentException($"encryption key {key.Name} is not 32 bytes in base64", nameof(keys));
            }
        }
        var podSecurity = hardening.PodSecurity;
        string File(string name, IReadOnlyDictionary<string, string> values) => Template.Render(name, values).TrimEnd('\n');
        return Template.Render("apiserver-config.sh", new Dictionary<string, string>
        {
            ["DIR"] = Sh.Quote(HardeningDir),
            ["AUDIT_DIR"] = Sh.Quote(AuditLogSettings.Dir),
            ["AUDIT_POLICY"] = Fragment("audit-policy.yaml"),
            ["POD_SECURITY"] = File("pod-security.yaml", new Dictionary<string, string>
            {
                ["ENFORCE"] = podSecurity.Enforce,
                ["WARN"] = podSecurity.Warn,
                ["AUDIT"] = podSecurity.Audit,
                ["EXEMPT_NAMESPACES"] = "[" + string.Join(", ", podSecurity.ExemptNamespaces) + "]",
            }),
            ["ANONYMOUS_AUTH"] = Fragment("anonymous-auth.yaml"),
            ["ENCRYPTION_CONFIG"] = File("encryption-config.yaml", new Dictionary<string, string>
            {
                ["KEYS"] = string.Join("\n", keys.Select(k => $"            - name: {k.Name}\n              secret: {k.Secret}")),
            }),
        });
    }
}
