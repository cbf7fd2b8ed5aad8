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
It implements only the REST paths the scripts and kubectl use: discovery, get/put/delete of single
objects, and lists of nodes and leases.
"""
import argparse
import base64
import json
import ssl
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--listen", default="0.0.0.0")
ap.add_argument("--port", type=int, default=6443)
ap.add_argument("--advertise-address", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--etcd-servers", required=True)
ap.add_argument("--etcd-cafile", required=True)
ap.add_argument("--etcd-certfile", required=True)
ap.add_argument("--etcd-keyfile", required=True)
args = ap.parse_args()

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
    kvs = etcd("/v3/kv/range", {"key": b64(key)}).get("kvs", [])
    return json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None


def list_prefix(prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    kvs = etcd("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)}).get("kvs", [])
    return [json.loads(base64.b64decode(kv["value"])) for kv in kvs]


def put(key, obj, lease=None):
    body = {"key": b64(key), "value": b64(json.dumps(obj))}
    if lease:
        body["lease"] = lease
    etcd("/v3/kv/put", body)


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


RESOURCES = {
    "nodes": ("Node", False, "minions"),
    "namespaces": ("Namespace", False, "namespaces"),
    "configmaps": ("ConfigMap", True, "configmaps"),
    "secrets": ("Secret", True, "secrets"),
    "pods": ("Pod", True, "pods"),
}


def key_for(path):
    """/api/v1/nodes/N or /api/v1/namespaces/NS/R/N -> (etcd key, kind); None if not an object path."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:2] != ["api", "v1"]:
        return None
    rest = parts[2:]
    if len(rest) == 4 and rest[0] == "namespaces" and rest[2] in RESOURCES:
        kind, _, stored = RESOURCES[rest[2]]
        return f"/registry/{stored}/{rest[1]}/{rest[3]}", kind, rest[3]
    if len(rest) == 2 and rest[0] in RESOURCES and not RESOURCES[rest[0]][1]:
        kind, _, stored = RESOURCES[rest[0]]
        return f"/registry/{stored}/{rest[1]}", kind, rest[1]
    if len(rest) in (1, 3):
        name = rest[-1]
        if name in RESOURCES:
            kind, namespaced, stored = RESOURCES[name]
            prefix = f"/registry/{stored}/" + (f"{rest[1]}/" if len(rest) == 3 else "")
            return prefix, kind + "List", None
    return None


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
                                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{args.advertise_address}:{args.port}"}]})
        if path == "/apis":
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return self.send(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": r, "singularName": k.lower(), "namespaced": ns, "kind": k, "verbs": ["get", "list", "create", "update", "patch", "delete"]}
                for r, (k, ns, _) in RESOURCES.items()]})
        target = key_for(path)
        if target is None:
            return self.not_found(path)
        key, kind, name = target
        if name is None:
            return self.send(200, {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": list_prefix(key)})
        obj = get(key)
        return self.send(200, obj) if obj is not None else self.not_found(name)

    def do_PUT(self):
        target = key_for(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        obj = json.loads(self.rfile.read(length) or b"{}")
        if target is None or target[2] is None:
            return self.not_found(self.path)
        put(target[0], obj)
        self.send(200, obj)

    do_POST = do_PUT

    def do_DELETE(self):
        target = key_for(self.path)
        if target is None or target[2] is None or delete(target[0]) == 0:
            return self.not_found(self.path)
        self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


threading.Thread(target=hold_master_lease, daemon=True).start()
server = ThreadingHTTPServer((args.listen, args.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(f"fake kube-apiserver on {args.listen}:{args.port}, advertising {args.advertise_address}", flush=True)
server.serve_forever()
