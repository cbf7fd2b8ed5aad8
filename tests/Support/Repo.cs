using System.Diagnostics;

namespace DoK8sHa.Tests.Support;

/// <summary>Paths in the repository and running the tools the tests check with.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>In CI every real-tool test must run: a missing tool fails there and is skipped elsewhere.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static void RequireTool(string tool, string install)
    {
        if (Which(tool) is not null)
        {
            return;
        }
        var reason = $"{tool} is not installed: {install} (CI installs it in .ci/run)";
        if (InCi)
        {
            Assert.Fail(reason);
        }
        Assert.Ignore(reason);
    }

    public static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => System.IO.Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, string? stdin = null, int timeoutSeconds = 60)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
            {
                process.StandardInput.Write(stdin);
            }
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The process ended without reading its input (ssh whose dial failed): its exit says why.
        }
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeoutSeconds} s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Pulumi.yaml")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("no Pulumi.yaml above the test binaries");
    }
}
