#!/usr/bin/env bash
# Runs on a control-plane node, with its own admin.conf, around a worker's upgrade step: MODE
# drain before it, uncordon after it. The worker holds no credential that could do this itself.
# drain: a worker already on TARGET is left alone; otherwise it is drained and a marker (on this
# node) says so. uncordon: a worker this script drained is uncordoned (one an operator cordoned
# stays cordoned); then it must run TARGET and be Ready within WAIT_SECONDS.
set -euo pipefail

MODE={{MODE}}
NODE_NAME={{NODE_NAME}}
TARGET={{TARGET}}
WAIT_SECONDS={{WAIT_SECONDS}}
KUBECONFIG_FILE={{KUBECONFIG_FILE}}
DRAINED=/var/lib/do-k8s-ha/upgrade-drained-$NODE_NAME

kc() { timeout 60 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

{{RETRY}}

{{DRAIN_NODE}}

state() { # kubelet version/unschedulable/Ready
  kc get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}/{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true
}

if [ "$MODE" = drain ]; then
  if [ "$(state)" = "v$TARGET//True" ] || [ "$(state)" = "v$TARGET/true/True" ]; then
    echo "$NODE_NAME already runs Kubernetes v$TARGET: not drained"
    exit 0
  fi
  mkdir -p "$(dirname "$DRAINED")"
  touch "$DRAINED"
  RETRY_TRIES=3 retry drain_node
  echo "drained $NODE_NAME for its upgrade to v$TARGET"
  exit 0
fi

if [ -f "$DRAINED" ]; then
  retry kc uncordon "$NODE_NAME"
  rm -f "$DRAINED"
fi
deadline=$((SECONDS + WAIT_SECONDS))
until [[ "$(state)" == "v$TARGET/"*"/True" ]]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "upgrade of $NODE_NAME: it did not come back Ready on v$TARGET within ${WAIT_SECONDS}s. Look: kubectl get node $NODE_NAME -o wide; kubectl describe node $NODE_NAME" >&2
    exit 1
  fi
  sleep 2 # one small GET per poll: the rollout moves on as soon as the node is back
done
echo "$NODE_NAME runs Kubernetes v$TARGET, Ready"
