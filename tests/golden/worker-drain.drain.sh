#!/usr/bin/env bash
# Runs on a control-plane node, with its own admin.conf, around a worker's upgrade step: MODE
# drain before it, uncordon after it. The worker holds no credential that could do this itself.
# drain: a worker already on TARGET is left alone; otherwise it is drained and a marker (on this
# node) says so. uncordon: a worker this script drained is uncordoned (one an operator cordoned
# stays cordoned); then it must run TARGET and be Ready within WAIT_SECONDS.
set -euo pipefail

MODE=drain
NODE_NAME='node3'
TARGET='1.35.1'
WAIT_SECONDS=600
KUBECONFIG_FILE='/etc/kubernetes/admin.conf'
DRAINED=/var/lib/do-k8s-ha/upgrade-drained-$NODE_NAME

kc() { timeout 60 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }

# An API server may restart under a call (a control-plane upgrade): give calls a few tries
# (RETRY_TRIES, 30 unless set), 5 s apart.
retry() {
  local attempt tries=${RETRY_TRIES:-30}
  for attempt in $(seq 1 "$tries"); do
    if "$@"; then
      return 0
    fi
    [ "$attempt" -lt "$tries" ] && sleep 5
  done
  return 1
}

# kubectl drain waits up to its --timeout (300 s) for the evictions; the command's own bound must
# outlast it, or a slow drain is killed at the bound and started over. A drain that timed out is
# tried twice more, not thirty times (each try may take its five minutes).
drain_node() {
  timeout 330 kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s drain "$NODE_NAME" \
    --ignore-daemonsets --delete-emptydir-data --timeout=300s
}

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
