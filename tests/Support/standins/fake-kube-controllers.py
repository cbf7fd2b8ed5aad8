#!/usr/bin/env python3
"""A stand-in for kube-scheduler and kube-controller-manager (one image, run under either name),
for the replay's control plane. What the scripts rely on, each beside its source:
- Leader election on a Lease in kube-system named after the component, through the API server of
  its --kubeconfig (kubeadm points scheduler.conf and controller-manager.conf at the node's own API
  server: cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go). client-go tools/leaderelection: the
  identity is "<hostname>_<uuid>" (cmd/kube-scheduler/app/options/options.go); a holder renews
  every retry period (2 s); another takes the lease only when renewTime + leaseDurationSeconds
  (15 s) has passed; every write carries the read resourceVersion, so of two candidates only one
  wins (resourcelock/leaselock.go Update). A process that cannot renew stops leading.
- While it leads, the controller-manager marks a node whose kubelet stopped posting status Ready
  "Unknown" (monitor_nodes), and reports the status of Deployments and DaemonSets. The
  real status comes from pods the scheduler places and kubelets run; containers are beyond the
  replay, so this stand-in counts a Deployment's replicas available, and a DaemonSet's pods ready
  on every Ready node, as soon as Ready nodes exist (a DaemonSet is desired on every node: the
  add-ons' DaemonSets tolerate every taint). The health gate's "CoreDNS available" therefore
  says the nodes are Ready, not that CoreDNS answers: the README says so.
- Each serves its health endpoint on its secure port while it runs, on 127.0.0.1 as kubeadm's
  manifests bind it (--bind-address=127.0.0.1; the controller-manager's port 10257, the
  scheduler's 10259: pkg/cluster/ports/ports.go). The real ones serve HTTPS; the scripts only ask
  whether the port is held, so plain HTTP answers here.
"""
import argparse
import base64
import http.server
import threading
import datetime
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

COMPONENT = os.path.basename(sys.argv[0])
ap = argparse.ArgumentParser()
ap.add_argument("--kubeconfig", required=True)
ap.add_argument("--leader-elect", default="true")
args, _ = ap.parse_known_args()

LEASE_DURATION, RETRY_PERIOD = 15, 2


def kubeconfig(path):
    """server, and an SSL context with the cluster CA and the client certificate of a kubeconfig."""
    text = open(path).read()
    values = {key: m.group(1) for key in ("server", "certificate-authority-data", "client-certificate-data", "client-key-data")
              if (m := re.search(r"(?<![\w-])" + key + r":\s*([^\s,}]+)", text))}
    ctx = ssl.create_default_context(cadata=base64.b64decode(values["certificate-authority-data"]).decode())
    if "client-certificate-data" in values:
        files = []
        for key in ("client-certificate-data", "client-key-data"):
            with tempfile.NamedTemporaryFile(delete=False) as f:
                f.write(base64.b64decode(values[key]))
            files.append(f.name)
        ctx.load_cert_chain(files[0], files[1])
    return values["server"], ctx


SERVER, CTX = kubeconfig(args.kubeconfig)


def api(method, path, body=None):
    """(status code, object)."""
    req = urllib.request.Request(SERVER + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


IDENTITY = f"{socket.gethostname()}_{uuid.uuid4()}"
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{COMPONENT}"


def try_lead():
    """One round of tryAcquireOrRenew: True while this process holds the lease."""
    code, lease = api("GET", LEASE)
    spec = {"holderIdentity": IDENTITY, "leaseDurationSeconds": LEASE_DURATION, "renewTime": stamp(now())}
    if code == 404:
        spec["acquireTime"] = spec["renewTime"]
        code, _ = api("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
                      {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": COMPONENT, "namespace": "kube-system"}, "spec": spec})
        return code == 201
    if code != 200:
        return False
    held = lease.get("spec", {})
    mine = held.get("holderIdentity") == IDENTITY
    expired = "renewTime" not in held or parse(held["renewTime"]) + datetime.timedelta(seconds=held.get("leaseDurationSeconds", LEASE_DURATION)) < now()
    if not mine and not expired:
        return False
    spec["acquireTime"] = held.get("acquireTime", spec["renewTime"]) if mine else spec["renewTime"]
    lease["spec"] = dict(held, **spec)
    code, _ = api("PUT", LEASE, lease)
    return code == 200


def ready(node):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in node.get("status", {}).get("conditions", []))


NODE_MONITOR_GRACE_PERIOD = 40


def monitor_nodes(nodes):
    """pkg/controller/nodelifecycle: a node whose kubelet has not posted status for the grace period
    (40 s, config/v1alpha1/defaults.go) gets Ready "Unknown"."""
    for node in nodes["items"]:
        for condition in node.get("status", {}).get("conditions", []):
            heartbeat = condition.get("lastHeartbeatTime")
            if condition.get("type") != "Ready" or condition.get("status") == "Unknown" or not heartbeat:
                continue
            age = now() - datetime.datetime.strptime(heartbeat, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
            if age.total_seconds() > NODE_MONITOR_GRACE_PERIOD:
                condition.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
                api("PUT", f"/api/v1/nodes/{node['metadata']['name']}/status", node)


def report_status():
    code, nodes = api("GET", "/api/v1/nodes")
    if code != 200:
        return
    monitor_nodes(nodes)
    ready_nodes = sum(1 for n in nodes["items"] if ready(n))
    for plural in ("deployments", "daemonsets"):
        code, objects = api("GET", f"/apis/apps/v1/{plural}")
        if code != 200:
            continue
        for obj in objects["items"]:
            meta = obj["metadata"]
            if plural == "deployments":
                replicas = obj.get("spec", {}).get("replicas", 1)
                available = replicas if ready_nodes > 0 else 0
                status = {"replicas": replicas, "readyReplicas": available, "availableReplicas": available}
            else:
                status = {"desiredNumberScheduled": len(nodes["items"]), "currentNumberScheduled": len(nodes["items"]),
                          "numberReady": ready_nodes, "numberAvailable": ready_nodes}
            status["observedGeneration"] = meta.get("generation", 1)
            if obj.get("status") != status:
                obj["status"] = status
                api("PUT", f"/apis/apps/v1/namespaces/{meta['namespace']}/{plural}/{meta['name']}/status", obj)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok"
        self.send_response(200 if self.path in ("/healthz", "/livez", "/readyz") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


SECURE_PORT = {"kube-controller-manager": 10257, "kube-scheduler": 10259}[COMPONENT]
threading.Thread(target=http.server.ThreadingHTTPServer(("127.0.0.1", SECURE_PORT), Health).serve_forever, daemon=True).start()

print(f"{COMPONENT} stand-in as {IDENTITY} through {SERVER}", flush=True)
leading = False
while True:
    try:
        now_leading = try_lead()
    except Exception as e:  # an API server that does not answer: not leading
        print(f"{COMPONENT}: {e}", flush=True)
        now_leading = False
    if now_leading != leading:
        print(f"{COMPONENT}: {'leading' if now_leading else 'not leading'}", flush=True)
        leading = now_leading
    if leading and COMPONENT == "kube-controller-manager":
        try:
            report_status()
        except Exception as e:
            print(f"{COMPONENT}: {e}", flush=True)
    time.sleep(RETRY_PERIOD)
