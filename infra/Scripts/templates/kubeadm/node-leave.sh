#!/usr/bin/env bash
# Takes node NODE_NAME out of Kubernetes before its droplet goes: drains it, unless it is down
# already (its pods cannot move gracefully then), and deletes its Node object. Runs on another
# control-plane node with that node's admin credential, so a node that is dead or already gone
# leaves as cleanly as a live one. Every call has a time limit and tolerates a node or cluster
# that is already gone: removal must never block `pulumi destroy`.
set -euo pipefail

NODE_NAME={{NODE_NAME}}
KUBECONFIG_FILE={{KUBECONFIG_FILE}}

kc() { timeout "$1" kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "${@:2}"; }

if ! command -v kubectl >/dev/null 2>&1 || ! kc 30 get node "$NODE_NAME" >/dev/null 2>&1; then
  echo "node $NODE_NAME is not in the cluster, or no API server answers: nothing to remove"
  exit 0
fi
ready=$(kc 30 get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
if [ "$ready" = True ]; then
  kc 200 drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout=180s \
    || echo "warning: drain of $NODE_NAME did not finish; deleting the node anyway" >&2
else
  echo "$NODE_NAME is not Ready: deleting it without a drain; its pods are recreated elsewhere"
fi
if kc 60 delete node "$NODE_NAME" --ignore-not-found >/dev/null; then
  echo "$NODE_NAME left the cluster"
else
  echo "warning: could not delete node $NODE_NAME: run 'kubectl delete node $NODE_NAME'" >&2
fi
