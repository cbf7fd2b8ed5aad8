#!/usr/bin/env bash
# Joins this node as a worker through the local API-server proxy, so it depends on no particular
# control-plane node. Workers join in parallel. It holds only the bootstrap token: whatever needs
# the API about this node (a stale Node, drains) runs on a control-plane node (stale-node.sh).
set -euo pipefail

NODE_NAME={{NODE_NAME}}
API_PROXY={{API_PROXY}}
KUBEADM_DIR=/etc/kubernetes/kubeadm

{{WAIT_UNTIL_ANSWERS}}

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$NODE_NAME has already joined"
  exit 0
fi

{{INTERRUPTED_JOIN}}

clear_interrupted_join worker

wait_until_answers "https://$API_PROXY/livez" 300 "no API server, through the local proxy $API_PROXY," "'systemctl status kube-apiserver-proxy' here"

# The join config holds the bootstrap token: kubeadm reads it from a root-only folder in /run
# (tmpfs) that goes with this step; no file on the node keeps it (nor an earlier release's).
rm -f "$KUBEADM_DIR/join.yaml"
JOIN_DIR=$(mktemp -d /run/do-k8s-ha-join.XXXXXX)
trap 'rm -rf "$JOIN_DIR"' EXIT
install -m 0600 /dev/stdin "$JOIN_DIR/join.yaml" <<'YAML'
{{JOIN_CONFIG}}
YAML
kubeadm join --config "$JOIN_DIR/join.yaml"
echo "$NODE_NAME joined as a worker"
