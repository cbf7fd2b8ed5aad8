#!/usr/bin/env bash
# The seed tutorial's failover experiment, against a live cluster of this stack: destroy one
# control-plane droplet (node1 by default) and watch the kube-scheduler and
# kube-controller-manager leases move to another control-plane node while the exported
# kubeconfig keeps working (through the load balancer).
#
#   scripts/failover-drill.sh [--yes] [NODE]
#
# Needs pulumi (with this stack selected), kubectl and doctl (authenticated). It DESTROYS the
# droplet for real: without --yes it asks first.
set -euo pipefail

yes=false
if [ "${1:-}" = "--yes" ]; then
  yes=true
  shift
fi
NODE=${1:-node1}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-300}
POLL_SECONDS=${POLL_SECONDS:-5}

for tool in pulumi kubectl doctl; do
  command -v "$tool" >/dev/null || { echo "failover drill: $tool is not installed" >&2; exit 2; }
done

kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
pulumi stack output kubeconfig --show-secrets > "$kubeconfig"
export KUBECONFIG=$kubeconfig

holder() { # lease name; prints the node holding it (holder identities are node_uuid)
  local identity
  identity=$(kubectl --request-timeout=5s -n kube-system get lease "$1" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
  echo "${identity%%_*}"
}

scheduler=$(holder kube-scheduler)
controller_manager=$(holder kube-controller-manager)
echo "before: kube-scheduler leader: ${scheduler:-none}, kube-controller-manager leader: ${controller_manager:-none}"
kubectl get nodes -o wide

droplet=$(doctl compute droplet list --format ID,Name --no-header | awk -v name="$NODE" '$2 == name { print $1 }')
if [ -z "$droplet" ]; then
  echo "failover drill: no droplet named $NODE" >&2
  exit 2
fi
if [ "$yes" != true ]; then
  read -r -p "Destroy droplet $NODE ($droplet) for real? [y/N] " answer
  [ "$answer" = y ] || { echo "nothing destroyed"; exit 0; }
fi

echo "destroying $NODE ($droplet) at $(date -u +%H:%M:%S)"
doctl compute droplet delete --force "$droplet"
start=$SECONDS

while :; do
  elapsed=$((SECONDS - start))
  api=down
  if kubectl --request-timeout=5s get --raw /livez >/dev/null 2>&1; then
    api=up
  fi
  scheduler=$(holder kube-scheduler)
  controller_manager=$(holder kube-controller-manager)
  echo "+${elapsed}s API: $api, kube-scheduler: ${scheduler:-none}, kube-controller-manager: ${controller_manager:-none}"
  if [ "$api" = up ] && [ -n "$scheduler" ] && [ "$scheduler" != "$NODE" ] \
    && [ -n "$controller_manager" ] && [ "$controller_manager" != "$NODE" ]; then
    echo "failover complete after ${elapsed}s: the kubeconfig still works and both leases are held away from $NODE"
    break
  fi
  if [ "$elapsed" -ge "$TIMEOUT_SECONDS" ]; then
    echo "failover drill: after ${TIMEOUT_SECONDS}s the API is $api and the leases are on '${scheduler:-none}' and '${controller_manager:-none}'" >&2
    exit 1
  fi
  sleep "$POLL_SECONDS"
done

cat <<NEXT
To bring $NODE back: pulumi refresh --yes && pulumi up
($NODE leaves the cluster from a surviving node, then a new $NODE joins; README.md, "Replace a node")
NEXT
