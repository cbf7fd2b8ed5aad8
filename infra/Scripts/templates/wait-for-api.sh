#!/usr/bin/env bash
# Runs where `pulumi up` runs: waits until the API answers at the endpoint users are given, so
# no add-on is sent to a cluster that cannot take it yet (a new load balancer needs a few
# health checks before it forwards).
set -euo pipefail

ENDPOINT={{ENDPOINT}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}

deadline=$((SECONDS + TIMEOUT_SECONDS))
until curl -ksf --max-time 5 "$ENDPOINT/livez" >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the API at $ENDPOINT did not answer within ${TIMEOUT_SECONDS}s. Look: is your address in adminCidrs, and are the load balancer's backends healthy?" >&2
    exit 1
  fi
  sleep 3
done
echo "the API answers at $ENDPOINT"
