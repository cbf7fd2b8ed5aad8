using System.Globalization;
using System.Security.Cryptography;

namespace DoK8sHa.Tests.Support;

/// <summary>
/// What the droplets download, served by nginx over HTTPS on the droplets' mirror host under the
/// real names (github.com, dl.k8s.io resolve to it inside the droplets, and the droplets' image
/// trusts its test CA): an etcd release tarball laid out as etcd's release script lays it out,
/// made of this machine's etcd, and a Kubernetes release's files made of the test stand-ins
/// (tests/Support/StandInReleases.cs) at their release paths. curl then does all it does on a
/// droplet: TLS to the name, the file to the release cache, the checksum checked.
/// </summary>
public sealed class ReleaseMirror
{
    private readonly Droplets _droplets;

    public ReleaseMirror(Droplets droplets)
    {
        _droplets = droplets;
        Root = Directory.CreateDirectory(Path.Combine(droplets.Hosts.Dir, "mirror")).FullName;
    }

    /// <summary>The document root: a path under it is the path of the URL.</summary>
    public string Root { get; }

    /// <summary>
    /// The test CA and the mirror's certificate for every mirrored name, made before any droplet
    /// (their image trusts the CA).
    /// </summary>
    public static void MakeCertificates(string dir)
    {
        var ca = Path.Combine(dir, "mirror-ca");
        var server = Path.Combine(dir, "mirror");
        var sans = string.Join(",", Droplets.MirroredNames.Select(n => $"DNS:{n}"));
        Must("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=do-k8s-ha test mirror CA", "-keyout", ca + ".key", "-out", ca + ".crt"]);
        Must("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=mirror", "-keyout", server + ".key", "-out", server + ".csr"]);
        File.WriteAllText(server + ".ext", $"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n");
        Must("openssl", ["x509", "-req", "-in", server + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", server + ".ext", "-out", server + ".crt"]);
    }

    /// <summary>Serves the document root; call once everything is added (files added later are served too).</summary>
    public void Serve(IReadOnlyList<string>? controlPlane = null)
    {
        // With control-plane addresses it is the load balancer too: TCP to the API servers and
        // the SSH relay to their sshd (components/ApiLoadBalancer.cs). As DigitalOcean's, it
        // forwards only to nodes that pass its health check, https /readyz on 6443 every 3 s,
        // admitted after 2 passes and dropped after 2 failures, for both rules: the checker
        // below rewrites the upstreams and reloads nginx when a node's health changes.
        var balancerConf = Path.Combine(_droplets.Hosts.Dir, "mirror-balancer.conf");
        if (controlPlane is not null)
        {
            // Until the checker has seen a node pass twice, none is admitted.
            File.WriteAllText(balancerConf,
                $"upstream api {{ {string.Join(" ", controlPlane.Select(a => $"server {a}:6443 down;"))} }}\n" +
                $"upstream relay {{ {string.Join(" ", controlPlane.Select(a => $"server {a}:22 down;"))} }}\n");
        }
        var balancer = controlPlane is null ? "" : $$"""
            stream {
              include {{balancerConf}};
              server { listen {{_droplets.Mirror.Address}}:6443; proxy_pass api; proxy_connect_timeout 1s; }
              server { listen {{_droplets.Mirror.Address}}:2222; proxy_pass relay; proxy_connect_timeout 1s; }
            }
            """;
        var dir = _droplets.Hosts.Dir;
        var config = Path.Combine(dir, "mirror-nginx.conf");
        // The mirror is the test's server, not the system under test: its workers run as root to
        // read the test's private folders.
        File.WriteAllText(config, $$"""
            load_module /usr/lib/nginx/modules/ngx_stream_module.so;
            user root;
            daemon off;
            pid {{dir}}/mirror-nginx.pid;
            error_log stderr;
            events {}
            http {
              access_log {{dir}}/mirror-access.log;
              types { application/gzip gz; application/vnd.debian.binary-package deb; }
              default_type application/octet-stream;
              server {
                listen {{_droplets.Mirror.Address}}:443 ssl;
                ssl_certificate {{dir}}/mirror.crt;
                ssl_certificate_key {{dir}}/mirror.key;
                root {{Root}};
              }
              # Spaces: the S3 server a test starts (ServeS3), reached as DigitalOcean's is, over
              # TLS with its own host name, which SigV4 signs (so it is passed on as it came).
              server {
                listen {{_droplets.Mirror.Address}}:443 ssl;
                server_name {{Droplets.SpacesHost}};
                ssl_certificate {{dir}}/mirror.crt;
                ssl_certificate_key {{dir}}/mirror.key;
                client_max_body_size 0;
                location / {
                  proxy_pass http://127.0.0.1:{{S3Port}};
                  proxy_set_header Host $host;
                  proxy_request_buffering off;
                }
              }
            }
            {{balancer}}
            """);
        _droplets.Hosts.Start(_droplets.Mirror, "mirror-nginx", Repo.Which("nginx")!, "-c", config, "-e", "stderr");
        _droplets.Hosts.WaitForPort(_droplets.Mirror, _droplets.Mirror.Address, 443);
        if (controlPlane is not null)
        {
            Directory.CreateDirectory(_droplets.BalancerResets);
            var checker = Path.Combine(dir, "mirror-health-check.sh");
            File.WriteAllText(checker, $$"""
                # The balancer's health check (components/ApiLoadBalancer.cs): every 3 s, https /readyz
                # on 6443 with a 3 s timeout; a node is admitted after 2 passes and dropped after 2 failures.
                declare -A passes fails up
                nodes=({{string.Join(" ", controlPlane)}})
                for a in "${nodes[@]}"; do passes[$a]=0; fails[$a]=0; up[$a]=0; done
                while true; do
                  changed=false
                  # A droplet made anew at an address is a new target: out until it passes twice,
                  # and out before the test goes on (it waits for its reset file to go).
                  resets=()
                  for a in "${nodes[@]}"; do
                    if [ -f "{{_droplets.BalancerResets}}/$a" ]; then
                      resets+=("{{_droplets.BalancerResets}}/$a")
                      passes[$a]=0; fails[$a]=0
                      if [ "${up[$a]}" = 1 ]; then up[$a]=0; changed=true; fi
                    fi
                  done
                  if [ "${#resets[@]}" -gt 0 ] && [ "$changed" = true ]; then
                    api=""; relay=""
                    for a in "${nodes[@]}"; do
                      down=""; [ "${up[$a]}" = 1 ] || down=" down"
                      api+="server $a:6443$down; "; relay+="server $a:22$down; "
                    done
                    printf 'upstream api { %s}\nupstream relay { %s}\n' "$api" "$relay" > {{balancerConf}}
                    kill -HUP "$(cat {{dir}}/mirror-nginx.pid)"
                    changed=false
                  fi
                  [ "${#resets[@]}" -eq 0 ] || rm -f "${resets[@]}"
                  for a in "${nodes[@]}"; do
                    if curl -ksf --max-time 3 "https://$a:6443/readyz" >/dev/null 2>&1; then
                      passes[$a]=$((passes[$a] + 1)); fails[$a]=0
                      if [ "${up[$a]}" = 0 ] && [ "${passes[$a]}" -ge 2 ]; then up[$a]=1; changed=true; fi
                    else
                      fails[$a]=$((fails[$a] + 1)); passes[$a]=0
                      if [ "${up[$a]}" = 1 ] && [ "${fails[$a]}" -ge 2 ]; then up[$a]=0; changed=true; fi
                    fi
                  done
                  if [ "$changed" = true ]; then
                    api=""; relay=""
                    for a in "${nodes[@]}"; do
                      down=""; [ "${up[$a]}" = 1 ] || down=" down"
                      api+="server $a:6443$down; "; relay+="server $a:22$down; "
                    done
                    printf 'upstream api { %s}\nupstream relay { %s}\n' "$api" "$relay" > {{balancerConf}}
                    kill -HUP "$(cat {{dir}}/mirror-nginx.pid)"
                  fi
                  sleep 3
                done
                """);
            _droplets.Hosts.Start(_droplets.Mirror, "mirror-health-check", "bash", checker);
        }
    }

    private const int S3Port = 9000;

    /// <summary>
    /// Starts moto's S3 server behind the mirror's Spaces endpoint, with signatures checked: moto
    /// verifies SigV4 once its first unauthenticated actions are spent (moto's
    /// INITIAL_NO_AUTH_ACTION_COUNT, core/responses.py), here an IAM user, its policy and its
    /// access key, which is returned: the pair DigitalOcean would make for the bucket's key.
    /// The bucket itself is made with that key, as the provider makes it.
    /// </summary>
    public (string AccessKey, string SecretKey) ServeS3(string bucket)
    {
        Repo.RequireTool("moto_server", "pip install 'moto[server]' (the image has moto 5)");
        _droplets.Hosts.Start(_droplets.Mirror, "moto", "env", "INITIAL_NO_AUTH_ACTION_COUNT=3", $"MOTO_S3_CUSTOM_ENDPOINTS=https://{Droplets.SpacesHost}",
            Repo.Which("moto_server")!, "-H", "127.0.0.1", "-p", S3Port.ToString(CultureInfo.InvariantCulture));
        _droplets.Hosts.WaitForPort(_droplets.Mirror, "127.0.0.1", S3Port);
        var (exit, stdout, stderr) = _droplets.Hosts.Exec(_droplets.Mirror, "python3", ["-c", $$"""
            import boto3, json
            iam = boto3.client("iam", endpoint_url="http://127.0.0.1:{{S3Port}}", region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
            iam.create_user(UserName="spaces")
            iam.put_user_policy(UserName="spaces", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
            key = iam.create_access_key(UserName="spaces")["AccessKey"]
            print(key["AccessKeyId"] + " " + key["SecretAccessKey"])
            """]);
        Assert.That(exit, Is.Zero, stdout + stderr);
        var pair = stdout.Trim().Split(' ');
        var made = S3((pair[0], pair[1]), $$"""
            s3.create_bucket(Bucket="{{bucket}}", CreateBucketConfiguration={"LocationConstraint": "lon1"})
            """);
        Assert.That(made.ExitCode, Is.Zero, made.Stdout + made.Stderr);
        return (pair[0], pair[1]);
    }

    /// <summary>An object of the test's S3 server, read with its key: its sha256, or null when there is none.</summary>
    public string? S3ObjectSha256((string AccessKey, string SecretKey) key, string bucket, string objectKey)
    {
        var (exit, stdout, _) = S3(key, $"""
            import hashlib
            print(hashlib.sha256(s3.get_object(Bucket="{bucket}", Key="{objectKey}")["Body"].read()).hexdigest())
            """);
        return exit == 0 ? stdout.Trim() : null;
    }

    /// <summary>The keys of a bucket of the test's S3 server.</summary>
    public string[] S3Objects((string AccessKey, string SecretKey) key, string bucket)
    {
        var (exit, stdout, stderr) = S3(key, $"""
            for o in s3.list_objects_v2(Bucket="{bucket}").get("Contents", []): print(o["Key"])
            """);
        Assert.That(exit, Is.Zero, stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Python run on the mirror host with <c>s3</c>, a boto3 client of the test's S3 server signing with this key.</summary>
    private (int ExitCode, string Stdout, string Stderr) S3((string AccessKey, string SecretKey) key, string script) =>
        _droplets.Hosts.Exec(_droplets.Mirror, "python3", ["-c", $"""
            import boto3
            s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:{S3Port}", region_name="lon1", aws_access_key_id="{key.AccessKey}", aws_secret_access_key="{key.SecretKey}")
            """ + "\n" + script]);

    /// <summary>What the droplets asked the mirror for, one request a line (nginx's access log).</summary>
    public string Requests => File.Exists(Path.Combine(_droplets.Hosts.Dir, "mirror-access.log")) ? File.ReadAllText(Path.Combine(_droplets.Hosts.Dir, "mirror-access.log")) : "";

    /// <summary>
    /// etcd-v&lt;version&gt;-linux-amd64.tar.gz at github.com's release path, its one top folder
    /// holding etcd and etcdctl (etcd scripts/release.sh), made of this machine's etcd; returns its sha256.
    /// </summary>
    public string AddEtcdRelease(string version)
    {
        var name = $"etcd-v{version}-linux-amd64";
        var stage = Directory.CreateDirectory(Path.Combine(_droplets.Hosts.Dir, "stage", name)).FullName;
        File.Copy(Repo.Which("etcd")!, Path.Combine(stage, "etcd"), overwrite: true);
        File.Copy(Repo.Which("etcdctl")!, Path.Combine(stage, "etcdctl"), overwrite: true);
        var folder = Directory.CreateDirectory(Path.Combine(Root, "etcd-io", "etcd", "releases", "download", $"v{version}")).FullName;
        var tarball = Path.Combine(folder, name + ".tar.gz");
        Must("tar", ["-czf", tarball, "-C", Path.GetDirectoryName(stage)!, name]);
        return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(tarball))).ToLowerInvariant();
    }

    /// <summary>
    /// A Kubernetes release's downloads (tests/Support/StandInReleases) at their release paths
    /// (dl.k8s.io, GitHub), beside the releases added before; returns the stack setting that pins
    /// their checksums, do-k8s-ha:releaseChecksums (the stand-ins are not the table's files).
    /// </summary>
    public (string Key, string Value) AddKubernetesRelease(string version)
    {
        Assert.That(DoK8sHa.Config.KubernetesVersion.TryParse(version, out var parsed), Is.True, version);
        var sums = StandInReleases.Build(Root, DoK8sHa.Config.ReleaseTable.For(parsed, new Dictionary<string, string> { ["kubeadm"] = "", ["kubelet"] = "", ["kubectl"] = "" })!);
        return ("do-k8s-ha:releaseChecksums", System.Text.Json.JsonSerializer.Serialize(sums));
    }

    private static void Must(string file, string[] args)
    {
        var (exit, stdout, stderr) = Repo.Run(file, args, timeoutSeconds: 120);
        if (exit != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {stdout}{stderr}");
        }
    }
}
