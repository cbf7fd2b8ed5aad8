using System.Reflection;

namespace DoK8sHa.Tests;

/// <summary>
/// Without the real-host tools (etcd, nginx, sshd, root) a fixture's SetUp skips its tests with
/// the install command before it has made anything; its TearDown then runs on an empty fixture
/// and must not turn the skip into an error.
/// </summary>
public class TestHygieneTests
{
    public static IEnumerable<Type> FixturesWithTearDown() =>
        typeof(TestHygieneTests).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttribute<TearDownAttribute>() is not null))
            .OrderBy(t => t.Name, StringComparer.Ordinal);

    [TestCaseSource(nameof(FixturesWithTearDown))]
    public void TearDownOfAFixtureWhoseSetUpSkippedDoesNotThrow(Type fixture)
    {
        var instance = Activator.CreateInstance(fixture)!;
        foreach (var tearDown in fixture.GetMethods().Where(m => m.GetCustomAttribute<TearDownAttribute>() is not null))
        {
            Assert.DoesNotThrow(() => tearDown.Invoke(instance, null), $"{fixture.Name}.{tearDown.Name}");
        }
    }
}
