namespace DoK8sHa.Config;

/// <summary>
/// Every port the cluster uses, in one place: the renderers fill them into the templates, and the
/// firewall and load balancer open them.
/// </summary>
public static class Ports
{
    /// <summary>kube-apiserver, on every address of a control-plane node; the load balancer forwards to it.</summary>
    public const int ApiServer = 6443;

    /// <summary>
    /// The local API proxy on every Kubernetes node, and the cluster's controlPlaneEndpoint. Not
    /// 6443: the API servers listen there on every address of a control-plane node.
    /// </summary>
    public const int ApiProxy = 6444;

    /// <summary>The local API proxy's address on a node.</summary>
    public const string ApiProxyListen = "127.0.0.1:6444";

    /// <summary>etcd's clients (the API servers, etcdctl, the members themselves).</summary>
    public const int EtcdClient = 2379;

    /// <summary>etcd's peers.</summary>
    public const int EtcdPeer = 2380;

    /// <summary>The kubelet's API (KubeletConfiguration port): the API servers and metrics-server dial it, by the node's VPC address.</summary>
    public const int Kubelet = 10250;

    /// <summary>
    /// DigitalOcean's droplet metadata service: it serves a droplet's user data to any process on
    /// the droplet, and pods are kept off it (metadata-guard.nft).
    /// </summary>
    public const string MetadataService = "169.254.169.254";
}
