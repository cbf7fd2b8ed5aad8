namespace DoK8sHa.Config;

/// <summary>Pod Security Admission's cluster-wide defaults (the PodSecurity plugin's configuration).</summary>
public sealed record PodSecuritySettings(string Enforce, string Warn, string Audit, IReadOnlyList<string> ExemptNamespaces);

/// <summary>The API servers' audit log: where it is kept and for how long.</summary>
public sealed record AuditLogSettings(int MaxAgeDays, int MaxBackups, int MaxSizeMb)
{
    public const string Dir = "/var/log/kubernetes/audit";
    public const string Path = Dir + "/audit.log";

    public static AuditLogSettings Default => new(ConfigDefaults.AuditLogMaxAgeDays, ConfigDefaults.AuditLogMaxBackups, ConfigDefaults.AuditLogMaxSizeMb);
}

/// <summary>What the cluster runs with beyond kubeadm's defaults (docs/hardening.md).</summary>
public sealed record HardeningSettings(
    PodSecuritySettings PodSecurity,
    AuditLogSettings AuditLog,
    IReadOnlyList<string> SecretsEncryptionKeys);
