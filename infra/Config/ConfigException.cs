namespace DoK8sHa.Config;

/// <summary>
/// Every problem found in the stack config, reported at once before any resource is created.
/// Each problem names its key and says how to fix it. A <see cref="Pulumi.RunException"/>: Pulumi
/// prints it as its message alone, without the .NET stack trace it prints for any other
/// exception (pulumi-dotnet Deployment.Runner.cs).
/// </summary>
public sealed class ConfigException : Pulumi.RunException
{
    public ConfigException(IReadOnlyList<string> problems)
        : base(Format(problems))
    {
        Problems = problems;
    }

    public IReadOnlyList<string> Problems { get; }

    private static string Format(IReadOnlyList<string> problems) =>
        $"The stack configuration has {problems.Count} problem(s); nothing was created or changed:"
        + string.Concat(problems.Select(p => $"{Environment.NewLine}  - {p}"));
}
