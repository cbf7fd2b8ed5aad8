using Pulumi;
using Local = Pulumi.Command.Local;

namespace DoK8sHa.Components;

/// <summary>
/// A check that runs where `pulumi up` runs, on creation and on every change of its script. Its
/// script sees the previous run's output as PULUMI_COMMAND_STDOUT, so it can judge a change.
/// </summary>
internal static class LocalGuard
{
    public static Local.Command Create(string name, string script, Resource parent) =>
        new(name, new Local.CommandArgs
        {
            Create = script,
            Update = script,
            Interpreter = { "/bin/bash", "-c" },
        }, new CustomResourceOptions { Parent = parent });
}
