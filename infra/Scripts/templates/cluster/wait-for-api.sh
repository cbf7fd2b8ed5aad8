#!/usr/bin/env bash
# Runs on a control-plane node before the add-ons are sent: waits until its API server is ready.
# Reached through the load balancer's SSH relay, the node is one the balancer already finds
# ready (ClusterAddons); this still judges the API itself, in the balancer's terms (/readyz).
set -euo pipefail

ENDPOINT={{ENDPOINT}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}

{{WAIT_UNTIL_ANSWERS}}

wait_until_answers "$ENDPOINT/readyz" "$TIMEOUT_SECONDS" "the API server on $(hostname)" "journalctl -u kubelet, crictl ps -a"
echo "the API server on $(hostname) is ready"
