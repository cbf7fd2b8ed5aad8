#!/usr/bin/env bash
# Runs on a control-plane node before the add-ons are sent: waits until its API server is ready.
# Reached through the load balancer's SSH relay, the node is one the balancer already finds
# ready (ClusterAddons); this still judges the API itself, in the balancer's terms (/readyz).
set -euo pipefail

ENDPOINT='https://127.0.0.1:6443'
TIMEOUT_SECONDS=600

# Waits up to $2 seconds for the URL $1 to answer with success (-f: an API server that is not
# ready yet answers 500; -k: the cluster's CA is not the system's), trying every 2 s. Then exits:
# $3 says what did not answer, $4 where to look.
wait_until_answers() {
  local deadline=$((SECONDS + $2))
  until curl -ksf --max-time 3 "$1" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$3 did not answer $1 within $2s. Look: $4" >&2
      exit 1
    fi
    sleep 2
  done
}

wait_until_answers "$ENDPOINT/readyz" "$TIMEOUT_SECONDS" "the API server on $(hostname)" "journalctl -u kubelet, crictl ps -a"
echo "the API server on $(hostname) is ready"
