#!/usr/bin/env bash
# Makes this node a control-plane node. Every control-plane node runs this same script.
# The node reaches the cluster only through its local API proxy (api-proxy.sh), which is also the
# cluster's controlPlaneEndpoint: kubeadm's token discovery returns the kubeconfig stored in
# cluster-info, and the join then talks only to that server (kubeadm discovery/token/token.go;
# kubernetes/kubeadm#3079), so it has to answer on a node that has no API server of its own yet.
# `kubeadm init` runs only where MAY_INIT is true and etcd holds no cluster, or — on purpose, said
# loudly — when etcd holds a cluster but no API server has been live for JOIN_WAIT_SECONDS
# (every control-plane node was lost; README "Every control-plane node lost"), or as soon as the
# old API servers' leases have lapsed when the operator has listed every control-plane node in
# lostNodes (PEERS_LOST; docs/backups.md). The certificates
# come from the program's own CAs (control-plane-pki.sh), so joining needs no uploaded
# certificate key and no time window.
set -euo pipefail

NODE_NAME='node1'
NODE_IP='10.240.0.2'
MAY_INIT=true
ETCD_ENDPOINTS='https://10.240.0.2:2379,https://10.240.0.3:2379,https://10.240.0.4:2379'
JOIN_TOKEN_GIVEN=false
API_PROXY='127.0.0.1:6444'
API_SERVER_PORT=6443
JOIN_WAIT_SECONDS=300
# Every control-plane node is listed in lostNodes: their leases lapse within LEASE_LAPSE_SECONDS.
PEERS_LOST=false
LEASE_LAPSE_SECONDS=60
ETCD_WAIT_SECONDS=60
KUBEADM_DIR=/etc/kubernetes/kubeadm
PKI=/etc/kubernetes/pki

umask 077
install -d -m 0700 "$KUBEADM_DIR"
cat > "$KUBEADM_DIR/init.yaml" <<'YAML'
# do-k8s-ha: kubeadm InitConfiguration of node1.
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
# kubeadm init always makes a bootstrap token (24 h by default): make it short-lived. Joins get
# tokens of their own (join-token.sh).
bootstrapTokens:
  - description: do-k8s-ha init
    ttl: 1h0m0s
    usages: [signing, authentication]
    groups: [system:bootstrappers:kubeadm:default-node-token]
localAPIEndpoint:
  advertiseAddress: 10.240.0.2
  bindPort: 6443
nodeRegistration:
  name: node1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    # Droplets have a public and a VPC interface: the cluster talks over the VPC.
    - name: node-ip
      value: 10.240.0.2

---
# do-k8s-ha: kubeadm ClusterConfiguration, uploaded to the cluster by the first `kubeadm init`.
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: k8s-dev
kubernetesVersion: v1.35.1
# Every node, control-plane nodes included, reaches the API servers through its own local proxy
# to all of them (api-proxy.sh). kubeadm writes this address into cluster-info, and a joining node
# then talks only to it (kubeadm discovery/token/token.go), so it must answer on a node that has no
# API server yet. No load balancer or first node sits on that path.
controlPlaneEndpoint: 127.0.0.1:6444
certificatesDir: /etc/kubernetes/pki
networking:
  dnsDomain: cluster.local
  podSubnet: 10.233.64.0/18
  serviceSubnet: 10.233.0.0/18
etcd:
  external:
    endpoints:
      - https://10.240.0.2:2379
      - https://10.240.0.3:2379
      - https://10.240.0.4:2379
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
apiServer:
  certSANs:
    - 127.0.0.1
    - localhost
    - 198.51.100.10
  # Hardening (README "Hardening"); the files come from apiserver-config.sh.
  extraArgs:
    - name: audit-policy-file
      value: /etc/kubernetes/hardening/audit-policy.yaml
    - name: audit-log-path
      value: /var/log/kubernetes/audit/audit.log
    - name: audit-log-maxage
      value: "30"
    - name: audit-log-maxbackup
      value: "10"
    - name: audit-log-maxsize
      value: "100"
    - name: admission-control-config-file
      value: /etc/kubernetes/hardening/pod-security.yaml
    - name: authentication-config
      value: /etc/kubernetes/hardening/anonymous-auth.yaml
    - name: encryption-provider-config
      value: /etc/kubernetes/hardening/encryption-config.yaml
    - name: encryption-provider-config-automatic-reload
      value: "true"
    # Kubelets serve certificates of a CA of their own, each signed by the program for one node's
    # name and address (kubelet-serving.sh): trust nothing else, the cluster CA's CSR API least.
    - name: kubelet-certificate-authority
      value: /etc/kubernetes/pki/kubelet-serving-ca.crt
    - name: profiling
      value: "false"
  extraVolumes:
    - name: hardening
      hostPath: /etc/kubernetes/hardening
      mountPath: /etc/kubernetes/hardening
      readOnly: true
      pathType: DirectoryOrCreate
    - name: audit-log
      hostPath: /var/log/kubernetes/audit
      mountPath: /var/log/kubernetes/audit
      readOnly: false
      pathType: DirectoryOrCreate
controllerManager:
  extraArgs:
    # Each node gets a pod range of this size from podSubnet: the two bound the node count.
    - name: node-cidr-mask-size
      value: "24"
    - name: profiling
      value: "false"
scheduler:
  extraArgs:
    - name: profiling
      value: "false"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
# The kubelet's serving certificate is not set here: every node's drop-in names its own
# (kubelet-serving.conf), and no node asks the CSR API for one (serverTLSBootstrap stays false).
YAML
# The join config holds the bootstrap token: kubeadm reads it from a root-only folder in /run
# (tmpfs) that goes with this step; no file on the node keeps it (nor an earlier release's).
rm -f "$KUBEADM_DIR/join.yaml"
JOIN_DIR=$(mktemp -d /run/do-k8s-ha-join.XXXXXX)
trap 'rm -rf "$JOIN_DIR"' EXIT
cat > "$JOIN_DIR/join.yaml" <<'YAML'
# do-k8s-ha: kubeadm JoinConfiguration of node1.
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 127.0.0.1:6444
    token: 
    # The program owns the cluster CA, so the hash is known before the cluster exists.
    caCertHashes:
      - sha256:0000000000000000000000000000000000000000000000000000000000000000
nodeRegistration:
  name: node1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.240.0.2


controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.240.0.2
    bindPort: 6443
YAML

# The program's credential (installed with the PKI by the node's credentials step), for the stale
# Node of a replaced machine.
kubeconfig='/etc/kubernetes/do-k8s-ha-admin.conf'

# A Node of this name while this machine has never joined is what a replaced droplet left (dead,
# or its leave did not finish): delete it, so the new machine registers afresh and the old one's
# pods are cleaned up instead of being adopted.
delete_stale_node() { # the API server to ask, host:port
  local kc=(timeout 90 kubectl --kubeconfig "$kubeconfig" --server "https://$1" --request-timeout=20s)
  if "${kc[@]}" get node "$NODE_NAME" >/dev/null 2>&1; then
    "${kc[@]}" delete node "$NODE_NAME"
    echo "deleted the Node object $NODE_NAME left by the machine this one replaces"
  fi
}

etcd_curl() { # endpoint, path, [curl args…]: etcd with the API server's own client certificate
  local endpoint=$1 path=$2
  shift 2
  curl -fsS --max-time 5 --cacert "$PKI/etcd/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "$@" "$endpoint$path"
}

etcd_keys() { # prefix; prints the keys under it, one a line
  local from to endpoint out
  from=$(printf '%s' "$1" | base64 -w0)
  to=$(printf '%s' "${1%/}0" | base64 -w0)
  for endpoint in ${ETCD_ENDPOINTS//,/ }; do
    if out=$(etcd_curl "$endpoint" /v3/kv/range -X POST -d "{\"key\":\"$from\",\"range_end\":\"$to\",\"keys_only\":true}" 2>/dev/null); then
      jq -r '.kvs[]?.key' <<<"$out" | while read -r key; do base64 -d <<<"$key"; echo; done
      return 0
    fi
  done
  echo "no etcd endpoint answered ($ETCD_ENDPOINTS): cannot tell whether the cluster exists" >&2
  exit 1
}

cluster_exists() {
  # kube-apiserver keeps every object in etcd: the kube-system namespace exists once init ran.
  local keys
  keys=$(etcd_keys /registry/namespaces/) || exit 1
  grep -qx /registry/namespaces/kube-system <<<"$keys"
}

live_api_servers() {
  # Every running API server holds a lease under /registry/masterleases/ that lapses 15 s after
  # it stops renewing (kube-apiserver pkg/controlplane/reconcilers/lease.go): the live ones,
  # whatever the inventory says.
  local keys
  keys=$(etcd_keys /registry/masterleases/) || exit 1
  sed -n 's#^/registry/masterleases/##p' <<<"$keys" | grep -vx "$NODE_IP" || true
}

# kubeadm's preflight asks /version of every external etcd endpoint and refuses if one does not
# answer (preflight/checks.go ExternalEtcdVersionCheck). The health step before this one waited
# for a quorum; wait a while longer for every member, then let kubeadm go on without the ones
# that stay down: a member lost for good must not stop a control-plane node from joining.
etcd_preflight_flags() {
  local deadline=$((SECONDS + ETCD_WAIT_SECONDS)) endpoint down
  while :; do
    down=()
    for endpoint in ${ETCD_ENDPOINTS//,/ }; do
      etcd_curl "$endpoint" /version >/dev/null 2>&1 || down+=("$endpoint")
    done
    [ "${#down[@]}" -gt 0 ] || return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "warning: etcd ${down[*]} did not answer /version within ${ETCD_WAIT_SECONDS}s; kubeadm's ExternalEtcdVersion check is skipped (a quorum answered)" >&2
      echo "--ignore-preflight-errors=ExternalEtcdVersion"
      return 0
    fi
    sleep 2
  done
}

# Waits up to JOIN_WAIT_SECONDS for a live API server. Prints its address and succeeds, or fails
# saying on stderr whether any API server held a lease meanwhile ("leases") or none did ("none").
# With PEERS_LOST the leases are the lost servers' own, lapsing (an etcd restored from a snapshot
# holds its API servers' leases, and its leader grants each a full TTL again: etcd
# lease/lessor.go, Promote): it waits only for them to go, and "leases" means one was renewed.
wait_for_live_peer() {
  local wait=$JOIN_WAIT_SECONDS deadline peer peers seen=none
  [ "$PEERS_LOST" != true ] || wait=$LEASE_LAPSE_SECONDS
  deadline=$((SECONDS + wait))
  while :; do
    peers=$(live_api_servers)
    if [ -n "$peers" ]; then
      seen=leases
    elif [ "$PEERS_LOST" = true ]; then
      echo none >&2
      return 1
    fi
    for peer in $peers; do
      if curl -ksf --max-time 3 "https://$peer:$API_SERVER_PORT/livez" >/dev/null 2>&1; then
        echo "$peer"
        return 0
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$seen" >&2
      return 1
    fi
    sleep 3
  done
}

# Waits up to $2 seconds for the URL $1 to answer with success (-f: an API server that is not
# ready yet answers 500; -k: the cluster's CA is not the system's), trying every 2 s. Then exits:
# $3 says what did not answer, $4 where to look.
wait_until_answers() {
  local deadline=$((SECONDS + $2))
  until curl -ksf --max-time 3 "$1" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$3 did not answer $1 within $2s. Look: $4" >&2
      exit 1
    fi
    sleep 2
  done
}

# kubeadm undoes nothing when init or join stops half-way, and init writes kubelet.conf in its
# kubeconfig phase, before the control plane is up (cmd/phases/init/kubeconfig.go): kubelet.conf
# and the manifests do not say that a node finished. This step records what it began, and
# removes the record once kubeadm has succeeded: a record found at the start is a half-done run.
BEGUN=$KUBEADM_DIR/begun
finished() { rm -f "$BEGUN"; }

# What an init or join that stopped half-way left, cleared: its static pods (the kubelet stops a
# pod whose manifest is gone, pkg/kubelet/config/file.go; stopping the kubelet would leave them
# running, and kubeadm's preflight refuses their ports), then the kubelet and its kubeconfigs.
# The program's certificates stay (`kubeadm reset` would empty /etc/kubernetes/pki).
clear_half_done() {
  local what port
  what=$(cat "$BEGUN")
  echo "kubeadm $what on $NODE_NAME stopped half-way on an earlier run; clearing what it left"
  rm -f /etc/kubernetes/manifests/*.yaml
  for port in "$API_SERVER_PORT" 10257 10259; do
    for _ in $(seq 1 60); do
      [ -n "$(ss -ltnH "sport = :$port")" ] || break
      sleep 1
    done
  done
  systemctl stop kubelet
  rm -f /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf "$BEGUN"
  [ "$what" != init ] || init_half_done=true
}

init() { # why
  echo "$1"
  echo init > "$BEGUN"
  # shellcheck disable=SC2046 # the flag, or nothing
  kubeadm init --config "$KUBEADM_DIR/init.yaml" --skip-token-print $(etcd_preflight_flags)
  finished
}

# A kubeadm join that stopped before the kubelet's TLS bootstrap wrote kubelet.conf (at
# kubelet-wait-bootstrap, say) undoes nothing: the kubelet it started keeps running and holds its
# port, and bootstrap-kubelet.conf, a control-plane join's static pod manifests and a worker's
# cluster CA stay. The next join's preflight refuses each (cmd/kubeadm/app/preflight/checks.go
# RunJoinNodeChecks: FileAvailable kubelet.conf and bootstrap-kubelet.conf, DirAvailable
# manifests, Port-10250, and for a worker FileAvailable pki/ca.crt). The node never registered, so
# nothing of it is in the cluster: clear what the join left, keeping the program's certificates
# (`kubeadm reset` would also empty /etc/kubernetes/pki).
clear_interrupted_join() { # worker | control-plane
  [ ! -f /etc/kubernetes/kubelet.conf ] || return 0
  if [ -f /etc/kubernetes/bootstrap-kubelet.conf ] || [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ]; then
    echo "an earlier kubeadm join on $NODE_NAME stopped before its kubelet joined; clearing what it left"
    systemctl stop kubelet
    rm -f /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/manifests/*.yaml
    if [ "$1" = worker ]; then
      rm -f /etc/kubernetes/pki/ca.crt
    fi
  fi
}

init_half_done=false
if [ -f "$BEGUN" ]; then
  clear_half_done
else
  clear_interrupted_join control-plane
fi

if [ -f /etc/kubernetes/kubelet.conf ] && [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
  echo "$NODE_NAME is already a control-plane node"
elif [ "$init_half_done" = true ] && [ "$MAY_INIT" = true ]; then
  # No other node joins before this node's init has finished (their steps wait for it).
  init "running kubeadm init on $NODE_NAME again"
elif ! cluster_exists; then
  if [ "$MAY_INIT" != true ]; then
    echo "etcd holds no cluster yet, and $NODE_NAME does not create it: the inventory's first control-plane node does. Look: its control-plane step" >&2
    exit 1
  fi
  init "creating the cluster on $NODE_NAME (kubeadm init)"
elif peer=$(wait_for_live_peer 2>"$KUBEADM_DIR/peer-wait"); then
  if [ "$JOIN_TOKEN_GIVEN" != true ]; then
    echo "$NODE_NAME must join the live cluster but was given no join token: its token step ran before the cluster existed. Run 'pulumi up' again" >&2
    exit 1
  fi
  wait_until_answers "https://$API_PROXY/livez" 60 "no API server, through the local proxy $API_PROXY," "'systemctl status kube-apiserver-proxy' here"
  delete_stale_node "$API_PROXY"
  echo "joining $NODE_NAME as a control-plane node through $API_PROXY (live: $peer)"
  echo join > "$BEGUN"
  # shellcheck disable=SC2046 # the flag, or nothing
  kubeadm join --config "$JOIN_DIR/join.yaml" $(etcd_preflight_flags)
  finished
elif [ "$PEERS_LOST" = true ] && [ "$(cat "$KUBEADM_DIR/peer-wait")" = leases ]; then
  echo "lostNodes lists every control-plane node, but API servers still renew leases in etcd after ${LEASE_LAPSE_SECONDS}s ($(live_api_servers | paste -sd' ')) and none answered /livez: one of them is not lost. Take it out of lostNodes, or stop its kubelet, then run 'pulumi up' again" >&2
  exit 1
elif [ "$(cat "$KUBEADM_DIR/peer-wait")" = leases ]; then
  # API servers are registered but none answers (a network blip, peers restarting during an
  # upgrade): a second `kubeadm init` here would overwrite a live cluster's configuration.
  echo "API servers hold leases in etcd ($(live_api_servers | paste -sd' ')) but none answered /livez within ${JOIN_WAIT_SECONDS}s; not creating a cluster over a live one. Look: 'crictl ps' and 'journalctl -u kubelet' on the control-plane nodes, then run 'pulumi up' again" >&2
  exit 1
elif [ "$MAY_INIT" = true ] && [ "$PEERS_LOST" = true ]; then
  init "etcd holds a cluster, lostNodes lists every control-plane node and no API server holds a lease: restoring the control plane on $NODE_NAME against the existing etcd data (kubeadm init; docs/backups.md)"
elif [ "$MAY_INIT" = true ]; then
  init "etcd holds a cluster but no API server has been live for ${JOIN_WAIT_SECONDS}s: restoring the control plane on $NODE_NAME against the existing etcd data (kubeadm init; README: Every control-plane node lost)"
else
  echo "etcd holds a cluster but no API server has been live for ${JOIN_WAIT_SECONDS}s; $NODE_NAME joins once the first control-plane node has restored it. Look: its control-plane step" >&2
  exit 1
fi

# kubeadm init (1.29 and later) leaves super-admin.conf, a system:masters credential that RBAC
# cannot restrict, on the init node only; nothing here uses it (break-glass: `kubeadm kubeconfig
# user --org system:masters` on a control-plane node, README "Hardening").
rm -f /etc/kubernetes/super-admin.conf
echo "$NODE_NAME is a control-plane node"
