#!/usr/bin/env bash
# Runs on a control-plane node before the add-ons are sent: waits until its API server is ready.
# Reached through the load balancer's SSH relay, the node is one the balancer already finds
# ready (ClusterAddons); this still judges the API itself, in the balancer's terms (/readyz).
set -euo pipefail

ENDPOINT={{ENDPOINT}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}

deadline=$((SECONDS + TIMEOUT_SECONDS))
until curl -ksf --max-time 5 "$ENDPOINT/readyz" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the API server at $ENDPOINT on $(hostname) was not ready within ${TIMEOUT_SECONDS}s. Look: journalctl -u kubelet, crictl ps -a" >&2
    exit 1
  fi
  sleep 3
done
echo "the API server on $(hostname) is ready"
