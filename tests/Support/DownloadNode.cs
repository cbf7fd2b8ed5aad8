namespace DoK8sHa.Tests.Support;

/// <summary>
/// A node for the download step, run as a droplet runs it: the step's text on the standard input
/// of <see cref="DoK8sHa.Scripts.Render.StepRunner"/>, as root, on the real paths. The node is a
/// network and mount namespace of its own: overlays over /etc, /var, /usr/local and /opt whose
/// upper layers are its disk (kept between runs), an empty /run at each run (a boot), and the
/// real nginx on its loopback serving the release files under their real names (dl.k8s.io and
/// github.com resolve to it in its /etc/hosts; a test CA is in its system store, put there by
/// update-ca-certificates as a droplet's image holds its CAs). The real curl fetches them;
/// systemctl is the stand-in that runs units (tests/Support/standins/systemctl).
/// </summary>
public sealed class DownloadNode : IDisposable
{
    /// <param name="ownUsr">The node's /usr is a layer of its disk too, for a test that installs
    /// and removes distribution packages with the real dpkg (their files are in /usr).</param>
    public DownloadNode(bool ownUsr = false)
    {
        _layers = ownUsr ? ["etc", "var", "usr", "usr/local", "opt"] : ["etc", "var", "usr/local", "opt"];
        Repo.RequireTool("unshare", "apt-get install util-linux");
        Repo.RequireTool("nginx", "apt-get install nginx");
        if (Environment.UserName != "root")
        {
            const string reason = "the node is a network and mount namespace and needs root (CI is root)";
            if (Repo.InCi)
            {
                Assert.Fail(reason);
            }
            Assert.Ignore(reason);
        }
        Dir = Directory.CreateTempSubdirectory("do-k8s-ha-download-").FullName;
        Root = Directory.CreateDirectory(Path.Combine(Dir, "www")).FullName;
        foreach (var d in _layers)
        {
            Directory.CreateDirectory(Path.Combine(Dir, "upper", d));
            Directory.CreateDirectory(Path.Combine(Dir, "work", d));
        }
        ReleaseMirror.MakeCertificates(Dir);
        var sbin = Directory.CreateDirectory(Path.Combine(Dir, "upper", "usr/local/sbin")).FullName;
        File.Copy(Repo.Path("tests", "Support", "standins", "systemctl"), Path.Combine(sbin, "systemctl"));
        File.Copy(Repo.Path("tests", "Support", "standins", "modprobe"), Path.Combine(sbin, "modprobe"));
        File.Copy(Repo.Path("tests", "Support", "standins", "journalctl"), Path.Combine(sbin, "journalctl"));
    }

    // Mounted in this order: /usr before /usr/local, which is a layer of its own over it.
    private readonly string[] _layers;

    public string Dir { get; }

    /// <summary>The served files: a path under it is the URL's path, on either name.</summary>
    public string Root { get; }

    /// <summary>A path of the node's disk as it is after a run (its upper layer), or null when the run left it as the image has it.</summary>
    public string? Disk(string path)
    {
        var layer = _layers.Where(l => path.StartsWith("/" + l + "/", StringComparison.Ordinal)).MaxBy(l => l.Length)!;
        var file = Path.Combine(Dir, "upper", layer, path[(layer.Length + 2)..]);
        return File.Exists(file) || Directory.Exists(file) ? file : null;
    }

    /// <summary>Every request nginx answered, one line each: "status bytes-sent range request".</summary>
    public string Requests => File.Exists(Path.Combine(Dir, "access.log")) ? File.ReadAllText(Path.Combine(Dir, "access.log")) : "";

    /// <summary>
    /// Boots the node and runs <paramref name="step"/> as the node runs a step; with
    /// <paramref name="rateLimit"/> nginx sends each response that slowly.
    /// </summary>
    /// <param name="before">Run on the node before the step, as root.</param>
    /// <param name="after">Run on the node after the step, as root (its output is <c>After</c>).</param>
    public (int Exit, string Output, string After) Run(string step, string? rateLimit = null, string after = "true", string before = "true")
    {
        var dir = Dir;
        File.WriteAllText(Path.Combine(dir, "step"), step);
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            user root;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/nginx-error.log;
            events {}
            http {
              log_format requests '$status $body_bytes_sent "$http_range" "$request"';
              access_log {{dir}}/access.log requests;
              default_type application/octet-stream;
              server {
                listen 127.0.0.1:443 ssl;
                ssl_certificate {{dir}}/mirror.crt;
                ssl_certificate_key {{dir}}/mirror.key;
                root {{Root}};
                {{(rateLimit is null ? "" : $"limit_rate {rateLimit};")}}
              }
            }
            """);
        var overlays = string.Join("\n", _layers.Select(l => $"mount -t overlay overlay -o lowerdir=/{l},upperdir={dir}/upper/{l},workdir={dir}/work/{l} /{l}"));
        var boot = $$"""
            set -e
            ip link set lo up
            {{overlays}}
            mount -t tmpfs tmpfs /run
            grep -q ' dl.k8s.io ' /etc/hosts || echo '127.0.0.1 dl.k8s.io github.com ' >> /etc/hosts
            if [ ! -f /usr/local/share/ca-certificates/do-k8s-ha-test.crt ]; then
              cp {{dir}}/mirror-ca.crt /usr/local/share/ca-certificates/do-k8s-ha-test.crt
              update-ca-certificates >/dev/null 2>&1
            fi
            nginx -c {{dir}}/nginx.conf
            for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.1; done
            set +e
            export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin STATE=/run/systemctl-stand-in
            bash -c {{DoK8sHa.Scripts.Sh.Quote(before)}}
            bash -c {{DoK8sHa.Scripts.Sh.Quote(DoK8sHa.Scripts.Render.StepRunner)}} < {{dir}}/step
            rc=$?
            echo "----after----"
            bash -c {{DoK8sHa.Scripts.Sh.Quote(after)}} 2>&1
            for p in /run/systemctl-stand-in/pids/*; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
            nginx -c {{dir}}/nginx.conf -s quit
            sleep 0.2
            exit $rc
            """;
        var (exit, stdout, stderr) = Repo.Run("unshare", ["--net", "--mount", "--propagation", "private", "--fork", "--pid", "--mount-proc", "bash", "-c", boot], timeoutSeconds: 180);
        var parts = stdout.Split("----after----\n");
        return (exit, parts[0] + stderr, parts.Length > 1 ? parts[1] : "");
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
