#!/usr/bin/env bash
# Reports etcd's health as kube-apiserver sees it: succeeds while a quorum of members answers
# /health (writes work), or only when all do if REQUIRE_ALL is true. Waits up to TIMEOUT_SECONDS.
set -euo pipefail

CLIENT_ENDPOINTS={{CLIENT_ENDPOINTS}}
CA_FILE={{CA_FILE}}
CERT_FILE={{CERT_FILE}}
KEY_FILE={{KEY_FILE}}
REQUIRE_ALL={{REQUIRE_ALL}}
TIMEOUT_SECONDS={{TIMEOUT_SECONDS}}

IFS=',' read -r -a endpoints <<<"$CLIENT_ENDPOINTS"
total=${#endpoints[@]}
quorum=$((total / 2 + 1))
deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  down=()
  for endpoint in "${endpoints[@]}"; do
    if ! curl -fsS --max-time 3 --cacert "$CA_FILE" --cert "$CERT_FILE" --key "$KEY_FILE" \
      "$endpoint/health" 2>/dev/null | grep -q '"health":"true"'; then
      down+=("$endpoint")
    fi
  done
  healthy=$((total - ${#down[@]}))
  if [ "${#down[@]}" -eq 0 ]; then
    echo "etcd is healthy: ${healthy}/${total} members"
    exit 0
  fi
  if [ "$REQUIRE_ALL" != true ] && [ "$healthy" -ge "$quorum" ]; then
    echo "etcd has quorum: ${healthy}/${total} members healthy; not answering: ${down[*]}"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    if [ "$healthy" -ge "$quorum" ]; then
      echo "etcd is degraded: ${healthy}/${total} members healthy (quorum holds); not answering: ${down[*]}" >&2
    else
      echo "etcd has lost quorum: ${healthy}/${total} members healthy, ${quorum} needed; writes fail. Not answering: ${down[*]}" >&2
    fi
    echo "look: 'journalctl -u etcd' on those members, and 'etcdctl endpoint health --cluster'" >&2
    exit 1
  fi
  sleep 2
done
