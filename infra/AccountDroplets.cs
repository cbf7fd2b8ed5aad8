using System.Globalization;
using DoK8sHa.Config;
using DO = Pulumi.DigitalOcean;

namespace DoK8sHa;

/// <summary>
/// The droplets DigitalOcean holds under a tag, whoever made them: read through the provider's
/// getDroplets data source, which runs in `pulumi preview` too (its inputs are known).
/// </summary>
public static class AccountDroplets
{
    public static async Task<IReadOnlyList<TaggedDroplet>> OnTagAsync(string tag)
    {
        // A filter on a list field matches a droplet when any of its tags is one of the values,
        // exactly but for case (terraform-provider-digitalocean internal/datalist values.go:
        // strings.EqualFold; match_by defaults to exact): k8s-x, not k8s-x-etcd. Every page is
        // read (droplet/droplets.go). GPU droplets are listed only on their own (gpus = true), and
        // the program makes none.
        var result = await DO.GetDroplets.InvokeAsync(new DO.GetDropletsArgs
        {
            Filters = { new DO.Inputs.GetDropletsFilterArgs { Key = "tags", Values = { tag } } },
        });
        return [.. result.Droplets.Select(d => new TaggedDroplet(d.Id.ToString(CultureInfo.InvariantCulture), d.Name, d.CreatedAt))];
    }
}
