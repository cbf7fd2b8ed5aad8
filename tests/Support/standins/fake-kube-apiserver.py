#!/usr/bin/env python3
"""A stand-in for kube-apiserver, for running the rendered control-plane scripts on test hosts.

It keeps what the scripts rely on from the real API server, each behaviour beside its source:
- Objects live in etcd under /registry/... (kubernetes staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go),
  so every API server of a cluster serves the same objects; nodes are kept as /registry/minions/NAME
  (pkg/registry/core/node/storage/storage.go, "minions").
- Each API server holds a lease /registry/masterleases/<advertise address> with a 15 s TTL and renews it
  (pkg/controlplane/reconcilers/lease.go; DefaultEndpointReconcilerTTL), which the scripts read to find
  the live API servers.
- The system namespaces controller creates kube-system (pkg/controlplane/controller/systemnamespaces).
- /readyz fails while etcd does not answer (the etcd readiness check, apiserver/pkg/server/healthz);
  /livez answers while the process runs.
- kube-public/cluster-info is readable without credentials (kubeadm's bootstrap RBAC,
  cmd/kubeadm/app/phases/bootstraptoken/clusterinfo/clusterinfo.go); anything else is served to any
  client certificate: authorization is not what these tests look at.
- Every object carries metadata.resourceVersion, its etcd revision; an update naming a stale one is
  refused with 409 Conflict (etcd3/store.go GuaranteedUpdate), which leader election relies on.
It implements only the REST paths the scripts, kubectl and the other stand-ins use: discovery;
get, list, create, update (and /status), merge patch and delete of the resources in RESOURCES.
"""
import argparse
import base64
import json
import ssl
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The real server's flag names (cmd/kube-apiserver/app/options), as kubeadm's static pod manifest
# passes them (cmd/kubeadm/app/phases/controlplane/manifests.go getAPIServerCommand).
ap = argparse.ArgumentParser()
ap.add_argument("--bind-address", default="0.0.0.0")
ap.add_argument("--secure-port", type=int, default=6443)
ap.add_argument("--advertise-address", required=True)
ap.add_argument("--tls-cert-file", required=True)
ap.add_argument("--tls-private-key-file", required=True)
ap.add_argument("--etcd-servers", required=True)
ap.add_argument("--etcd-cafile", required=True)
ap.add_argument("--etcd-certfile", required=True)
ap.add_argument("--etcd-keyfile", required=True)
# The flags kubeadm renders from apiServer.extraArgs (audit, admission, encryption, ...) are the
# real server's and are not modelled here: taken, and not acted on.
args, _unmodelled = ap.parse_known_args()

etcd_ctx = ssl.create_default_context(cafile=args.etcd_cafile)
etcd_ctx.load_cert_chain(args.etcd_certfile, args.etcd_keyfile)
ETCD = args.etcd_servers.split(",")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def etcd(path, body):
    last = None
    for endpoint in ETCD:
        try:
            req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(req, context=etcd_ctx, timeout=3) as r:
                return json.loads(r.read())
        except Exception as e:  # the next member may answer
            last = e
    raise RuntimeError(f"no etcd member answered: {last}")


def get(key):
    """The stored object with metadata.resourceVersion = its etcd mod_revision (etcd3/store.go)."""
    kvs = etcd("/v3/kv/range", {"key": b64(key)}).get("kvs", [])
    return with_version(kvs[0]) if kvs else None


def with_version(kv):
    obj = json.loads(base64.b64decode(kv["value"]))
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv["mod_revision"])
    return obj


def list_prefix(prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    kvs = etcd("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)}).get("kvs", [])
    return [with_version(kv) for kv in kvs]


def put(key, obj, lease=None, version=None):
    """Writes obj; with a resourceVersion, only over that revision (GuaranteedUpdate's compare on
    mod_revision; a stale one is a 409 Conflict). Returns False on a conflict."""
    value = dict(obj)
    value["metadata"] = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    body = {"key": b64(key), "value": b64(json.dumps(value))}
    if lease:
        body["lease"] = lease
    if version is None:
        etcd("/v3/kv/put", body)
        return True
    compare = [{"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(version)}]
    return etcd("/v3/kv/txn", {"compare": compare, "success": [{"request_put": body}]}).get("succeeded", False)


def delete(key):
    return int(etcd("/v3/kv/deleterange", {"key": b64(key)}).get("deleted", "0"))


def hold_master_lease():
    key = "/registry/masterleases/" + args.advertise_address
    while True:
        try:
            lease = etcd("/v3/lease/grant", {"TTL": 15})["ID"]
            put(key, {"kind": "Endpoints", "subsets": [{"addresses": [{"ip": args.advertise_address}]}]}, lease)
            if get("/registry/namespaces/kube-system") is None:
                put("/registry/namespaces/kube-system", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
            while True:
                time.sleep(5)
                etcd("/v3/lease/keepalive", {"ID": lease})
        except Exception:
            time.sleep(1)


def merge_patch(target, patch):
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# The served resources: group/version -> plural -> (kind, namespaced, etcd prefix). The prefixes
# are the real server's (pkg/registry/*/storage; nodes are "minions", services "services/specs").
RESOURCES = {
    "v1": {
        "nodes": ("Node", False, "minions"),
        "namespaces": ("Namespace", False, "namespaces"),
        "configmaps": ("ConfigMap", True, "configmaps"),
        "secrets": ("Secret", True, "secrets"),
        "pods": ("Pod", True, "pods"),
        "services": ("Service", True, "services/specs"),
        "serviceaccounts": ("ServiceAccount", True, "serviceaccounts"),
    },
    "apps/v1": {
        "deployments": ("Deployment", True, "deployments"),
        "daemonsets": ("DaemonSet", True, "daemonsets"),
    },
    "coordination.k8s.io/v1": {
        "leases": ("Lease", True, "leases"),
    },
    "rbac.authorization.k8s.io/v1": {
        "clusterroles": ("ClusterRole", False, "clusterroles"),
        "clusterrolebindings": ("ClusterRoleBinding", False, "clusterrolebindings"),
        "roles": ("Role", True, "roles"),
        "rolebindings": ("RoleBinding", True, "rolebindings"),
    },
}


def key_for(path):
    """/api/v1/... or /apis/G/V/... -> (etcd key or list prefix, kind, name or None, subresource)."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:2] == ["api", "v1"]:
        gv, rest = "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        gv, rest = parts[1] + "/" + parts[2], parts[3:]
    else:
        return None
    served = RESOURCES.get(gv)
    if served is None:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in served:
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in served:
        return None
    kind, namespaced, stored = served[rest[0]]
    if namespaced != (namespace is not None) and len(rest) > 1:
        return None
    prefix = f"/registry/{stored}/" + (f"{namespace}/" if namespace else "")
    if len(rest) == 1:
        return prefix, kind + "List", None, None
    return prefix + rest[1], kind, rest[1], (rest[2] if len(rest) > 2 else None)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        print(f"{self.command} {self.path} -> " + (fmt % a), flush=True)

    def send(self, code, obj):
        body = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(obj, str) else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def not_found(self, name):
        self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                        "message": f'"{name}" not found', "details": {"name": name}})

    def status(self, code, reason, message):
        self.send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/livez", "/healthz"):
            return self.send(200, "ok")
        if path == "/readyz":
            try:
                etcd("/v3/kv/range", {"key": b64("/registry/health")})
                return self.send(200, "ok")
            except Exception as e:
                return self.send(500, f"[-]etcd failed: {e}\nreadyz check failed")
        if path == "/version":
            return self.send(200, {"major": "1", "minor": "35", "gitVersion": "v1.35.1"})
        if path == "/api":
            return self.send(200, {"kind": "APIVersions", "versions": ["v1"],
                                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{args.advertise_address}:{args.secure_port}"}]})
        if path == "/apis":
            groups = []
            for gv in RESOURCES:
                if "/" in gv:
                    group, version = gv.split("/")
                    entry = {"groupVersion": gv, "version": version}
                    groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        gv = path[len("/api/"):] if path == "/api/v1" else path[len("/apis/"):]
        if gv in RESOURCES and path in ("/api/v1", "/apis/" + gv):
            return self.send(200, {"kind": "APIResourceList", "groupVersion": gv, "resources": [
                {"name": r, "singularName": k.lower(), "namespaced": ns, "kind": k, "verbs": ["get", "list", "create", "update", "patch", "delete"]}
                for r, (k, ns, _) in RESOURCES[gv].items()]})
        target = key_for(path)
        if target is None:
            return self.not_found(path)
        key, kind, name, _ = target
        if name is None:
            return self.send(200, {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": list_prefix(key)})
        obj = get(key)
        return self.send(200, obj) if obj is not None else self.not_found(name)

    def do_PUT(self):
        # An update: a stale metadata.resourceVersion is a 409 Conflict (rest/update.go). An update
        # of a missing object creates it here for every resource. The real server does that only
        # where the strategy's AllowCreateOnUpdate says so (leases, not configmaps, secrets, nodes
        # or deployments), and answers 404 elsewhere. The kubeadm stand-in and the replay's object
        # writer rely on this leniency where kubeadm creates, then updates on AlreadyExists.
        target = key_for(self.path)
        obj = self.body()
        if target is None or target[2] is None:
            return self.not_found(self.path)
        version = obj.get("metadata", {}).get("resourceVersion")
        if target[3] == "status":
            stored = get(target[0])
            if stored is None:
                return self.not_found(target[2])
            obj = dict(stored, status=obj.get("status", {}))
        if not put(target[0], obj, version=version):
            return self.status(409, "Conflict", f'Operation cannot be fulfilled on {target[1]} "{target[2]}": the object has been modified; please apply your changes to the latest version and try again')
        self.send(200, get(target[0]))

    def do_POST(self):
        # A create on the collection (rest/create.go): the name is the body's; an existing one is a 409.
        target = key_for(self.path)
        obj = self.body()
        name = obj.get("metadata", {}).get("name")
        if target is None or target[2] is not None or not name:
            return self.not_found(self.path)
        key = target[0] + name
        if get(key) is not None:
            return self.status(409, "AlreadyExists", f'{target[1].removesuffix("List")} "{name}" already exists')
        put(key, obj)
        self.send(201, get(key))

    def do_PATCH(self):
        # apiserver/pkg/endpoints/handlers/patch.go: a JSON merge patch (RFC 7386) is applied to the
        # stored object; a strategic merge patch of plain maps (a ConfigMap's data) merges the same way.
        # JSON patch (a list of operations) is not modelled and is refused.
        target = key_for(self.path)
        patch = self.body()
        kind = self.headers.get("Content-Type", "").split(";")[0]
        if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return self.status(415, "UnsupportedMediaType", f"the fake API server does not apply {kind} patches")
        if target is None or target[2] is None:
            return self.not_found(self.path)
        obj = get(target[0])
        if obj is None:
            return self.not_found(target[2])
        put(target[0], merge_patch(obj, patch))
        self.send(200, get(target[0]))

    def do_DELETE(self):
        target = key_for(self.path)
        if target is None or target[2] is None or delete(target[0]) == 0:
            return self.not_found(self.path)
        self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


threading.Thread(target=hold_master_lease, daemon=True).start()
server = ThreadingHTTPServer((args.bind_address, args.secure_port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(f"fake kube-apiserver on {args.bind_address}:{args.secure_port}, advertising {args.advertise_address}", flush=True)
server.serve_forever()
