#!/usr/bin/env bash
# Joins this node as a worker through the local API-server proxy, so it depends on no particular
# control-plane node. Workers join in parallel. It holds only the bootstrap token: whatever needs
# the API about this node (a stale Node, drains) runs on a control-plane node (stale-node.sh).
set -euo pipefail

NODE_NAME='node3'
API_PROXY='127.0.0.1:6444'
KUBEADM_DIR=/etc/kubernetes/kubeadm

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

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$NODE_NAME has already joined"
  exit 0
fi

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

clear_interrupted_join worker

wait_until_answers "https://$API_PROXY/livez" 300 "no API server, through the local proxy $API_PROXY," "'systemctl status kube-apiserver-proxy' here"

# The join config holds the bootstrap token: kubeadm reads it from a root-only folder in /run
# (tmpfs) that goes with this step; no file on the node keeps it (nor an earlier release's).
rm -f "$KUBEADM_DIR/join.yaml"
JOIN_DIR=$(mktemp -d /run/do-k8s-ha-join.XXXXXX)
trap 'rm -rf "$JOIN_DIR"' EXIT
install -m 0600 /dev/stdin "$JOIN_DIR/join.yaml" <<'YAML'
# do-k8s-ha: kubeadm JoinConfiguration of node3.
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 127.0.0.1:6444
    token: abcdef.0123456789abcdef
    # The program owns the cluster CA, so the hash is known before the cluster exists.
    caCertHashes:
      - sha256:0000000000000000000000000000000000000000000000000000000000000000
nodeRegistration:
  name: node3
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.240.0.4
    - name: node-labels
      value: do-k8s-ha.io/droplet=412345678
YAML
kubeadm join --config "$JOIN_DIR/join.yaml"
echo "$NODE_NAME joined as a worker"
