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

umask 077
install -d -m 0700 "$KUBEADM_DIR"
cat > "$KUBEADM_DIR/join.yaml" <<'YAML'
{{JOIN_CONFIG}}
YAML
kubeadm join --config "$KUBEADM_DIR/join.yaml"
echo "$NODE_NAME joined as a worker"
