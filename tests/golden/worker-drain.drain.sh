#!/usr/bin/env bash
# Runs on a control-plane node, with its own admin.conf, around a worker's upgrade step: MODE
# drain before it, uncordon after it. The worker holds no credential that could do this itself.
# drain: a worker already on TARGET is left alone; otherwise it is marked, then drained.
# uncordon: a worker this script drained is uncordoned (one an operator cordoned stays
# cordoned); then it must run TARGET and be Ready within WAIT_SECONDS.
# The mark is an annotation on the Node, not a file here: drain and uncordon run through the
# balancer's relay, each on whichever control-plane node is alive (components/RollingUpgrade.cs).
set -euo pipefail

MODE=drain
NODE_NAME='node3'
TARGET='1.35.1'
WAIT_SECONDS=600
KUBECONFIG_FILE='/etc/kubernetes/admin.conf'
MARK=do-k8s-ha/upgrade-drained

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

# kubelet version/unschedulable/Ready/the mark; fails when the API does not answer.
node_state() {
  kc get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}/{.status.conditions[?(@.type=="Ready")].status}/{.metadata.annotations.do-k8s-ha/upgrade-drained}'
}
state() { node_state 2>/dev/null || true; }

if [ "$MODE" = drain ]; then
  if [[ "$(state)" == "v$TARGET/"*"/True/"* ]]; then
    echo "$NODE_NAME already runs Kubernetes v$TARGET: not drained"
    exit 0
  fi
  retry kc annotate --overwrite node "$NODE_NAME" "$MARK=v$TARGET" >/dev/null
  RETRY_TRIES=3 retry drain_node
  echo "drained $NODE_NAME for its upgrade to v$TARGET"
  exit 0
fi

# Read, not guessed: a Node the API could not show would otherwise stay cordoned.
if ! current=$(RETRY_TRIES=12 retry node_state); then
  echo "upgrade of $NODE_NAME: the API did not show its Node; run pulumi up again" >&2
  exit 1
fi
if [ -n "${current##*/}" ]; then
  # Uncordoned first, then unmarked: a run stopped between the two uncordons it again.
  retry kc uncordon "$NODE_NAME"
  retry kc annotate node "$NODE_NAME" "$MARK-" >/dev/null
fi
deadline=$((SECONDS + WAIT_SECONDS))
until [[ "$(state)" == "v$TARGET/"*"/True/"* ]]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "upgrade of $NODE_NAME: it did not come back Ready on v$TARGET within ${WAIT_SECONDS}s. Look: kubectl get node $NODE_NAME -o wide; kubectl describe node $NODE_NAME" >&2
    exit 1
  fi
  sleep 2 # one small GET per poll: the rollout moves on as soon as the node is back
done
echo "$NODE_NAME runs Kubernetes v$TARGET, Ready"
