#!/usr/bin/env bash
# Joins this node as a worker through the local API-server proxy, so it depends on no particular
# control-plane node. Workers join in parallel. It holds only the bootstrap token: whatever needs
# the API about this node (a stale Node, drains) runs on a control-plane node (stale-node.sh).
set -euo pipefail

NODE_NAME={{NODE_NAME}}
API_PROXY={{API_PROXY}}
KUBEADM_DIR=/etc/kubernetes/kubeadm

if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "$NODE_NAME has already joined"
  exit 0
fi

deadline=$((SECONDS + 300))
until curl -ksf --max-time 3 "https://$API_PROXY/livez" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "no API server answers through the local proxy $API_PROXY. Look: 'systemctl status kube-apiserver-proxy' here" >&2
    exit 1
  fi
  sleep 3
done

umask 077
install -d -m 0700 "$KUBEADM_DIR"
cat > "$KUBEADM_DIR/join.yaml" <<'YAML'
{{JOIN_CONFIG}}
YAML
kubeadm join --config "$KUBEADM_DIR/join.yaml"
echo "$NODE_NAME joined as a worker"
